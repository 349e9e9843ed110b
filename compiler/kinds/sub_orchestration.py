"""`SubOrchestration` steps create a child OrchestrationRun and wait on its phase
(the controller of this project sets `Succeeded` or `Failed`)."""

from __future__ import annotations

from typing import Any

from compiler.api import API_VERSION, RUN_KIND
from compiler.diagnostics import Collector, FieldPath
from compiler.kinds.base import Emitted, Kind, StepContext, no_expansion_json, require_ref
from compiler.kinds.resource import create_template, resource_step
from compiler.models import Step

TEMPLATE = create_template(
    API_VERSION, RUN_KIND, "status.phase == Succeeded", "status.phase == Failed"
)


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    require_ref(step, "orchestrationRef", path, out, "the child Orchestration, {name: ...}")


def build(step: Step, ctx: StepContext) -> Emitted:
    assert step.orchestration_ref is not None
    spec: dict[str, Any] = {"orchestrationRef": {"name": step.orchestration_ref.name}}
    if ctx.parameters:
        spec["parameters"] = dict(ctx.parameters)
    if "deliveryId" in step.extras:
        spec["deliveryId"] = step.extras["deliveryId"]
    return resource_step(
        "sub-orchestration", TEMPLATE, ctx.step_label, spec=no_expansion_json(spec)
    )


KIND = Kind("SubOrchestration", build, check, extra_keys=("deliveryId",))
