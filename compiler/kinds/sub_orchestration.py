"""`SubOrchestration` steps create a child OrchestrationRun and wait on its phase
(the controller of this project sets `Succeeded`, `Failed` or `Cancelled`: a
person may cancel the child alone, and a phase neither condition matches would
leave the parent's step waiting for ever). The child carries
its depth in the chain of runs (annotation `orchestration.proompteng.ai/depth`,
the parent's plus one), which the controller holds to
`maxSubOrchestrationDepth`, and, when the controller compiles it, its share of
the root run's `maxDescendants` (`.../descendants`; contract §4, §6)."""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Collector, FieldPath
from compiler.kinds.base import (
    Emitted,
    Kind,
    StepContext,
    Template,
    check_reference,
    no_expansion_json,
)
from compiler.kinds.resource import create_template, resource_step
from compiler.step_fields import Reader, keys_read, sub_orchestration_spec
from orchapi.api import (
    API_VERSION,
    DEPTH_ANNOTATION,
    DESCENDANTS_ANNOTATION,
    RUN_KIND,
    SUB_ORCHESTRATION,
)
from orchapi.models import Step

TEMPLATE_NAME = "sub-orchestration"

BUDGET_PARAM = "descendants"


def template(child_depth: int, budgeted: bool = False) -> Template:
    """`budgeted`: the child carries its descendant budget, a task argument (one
    template for every step: the budget differs per step)."""
    annotations = {DEPTH_ANNOTATION: str(child_depth)}
    if budgeted:
        annotations[DESCENDANTS_ANNOTATION] = f"{{{{inputs.parameters.{BUDGET_PARAM}}}}}"
    return create_template(API_VERSION, RUN_KIND, "status.phase == Succeeded",
                           "status.phase in (Failed,Cancelled)", annotations,
                           [BUDGET_PARAM] if budgeted else [])


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    check_reference(Reader(step, path, out), SUB_ORCHESTRATION, "orchestrationRef",
                    "the child Orchestration", path, out)


def build(step: Step, ctx: StepContext) -> Emitted:
    """The child run `submitSubOrchestrationStep` creates: orchestrationRef and
    parameters, no more (the reference gives the child no deliveryId: two parent
    runs' children would otherwise be one delivery, contract §5); and, from the
    controller, the child's share of the root run's descendant budget."""
    spec = sub_orchestration_spec(Reader(step.model_dump(by_alias=True, exclude_none=True)),
                                  ctx.parameters)
    budget = {} if ctx.descendants is None else {BUDGET_PARAM: str(ctx.descendants)}
    return resource_step(TEMPLATE_NAME, template(ctx.depth + 1, bool(budget)),
                         ctx.step_label, spec=no_expansion_json(spec), **budget)


KIND = Kind(SUB_ORCHESTRATION, build, check, template=TEMPLATE_NAME,
            extra_keys=keys_read(SUB_ORCHESTRATION))
