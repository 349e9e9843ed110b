"""`AgentRun` steps create an `agents.proompteng.ai` AgentRun and wait on it."""

from __future__ import annotations

from typing import Any

from compiler.api import AGENTS_API_VERSION
from compiler.diagnostics import Collector, FieldPath, Reason, Severity
from compiler.kinds.base import Emitted, Kind, StepContext, no_expansion_json, require_ref
from compiler.kinds.resource import create_template, resource_step
from compiler.models import Step

# AgentRun spec fields a step may carry through (the AgentRun CRD's own names).
PASSED_THROUGH = (
    "implementationSpecRef",
    "implementation",
    "runtime",
    "memoryRef",
    "secrets",
    "idempotencyKey",
    "vcsRef",
    "vcsPolicy",
    "workload",
    "workflow",
    "ttlSecondsAfterFinished",
)
TEMPLATE = create_template(
    AGENTS_API_VERSION,
    "AgentRun",
    "status.phase == Succeeded",
    "status.phase in (Failed,Cancelled)",
)


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    require_ref(step, "agentRef", path, out, "the Agent to run, {name: ...}")
    if "implementationSpecRef" not in step and "implementation" not in step:
        # The reference system's own example omits it, so this is a warning: the
        # AgentRun CRD will refuse the object until the step names one.
        out.add(
            Reason.MISSING_STEP_FIELD,
            path.child("implementationSpecRef"),
            "an AgentRun step should give implementationSpecRef or implementation; "
            "the AgentRun CRD refuses an AgentRun without one",
            severity=Severity.WARNING,
            names=("implementationSpecRef",),
        )
    with_ = step.get("with")
    if isinstance(with_, dict) and "prompt" in with_:
        out.add(
            Reason.INVALID_FIELD,
            path.child("with", "prompt"),
            "AgentRun parameters may not hold 'prompt' (the AgentRun CRD refuses it)",
            hint="put the text in the ImplementationSpec",
        )


def build(step: Step, ctx: StepContext) -> Emitted:
    assert step.agent_ref is not None
    extras = step.extras
    spec: dict[str, Any] = {"agentRef": {"name": step.agent_ref.name}}
    for key in PASSED_THROUGH:
        if key in extras:
            value = extras[key]
            if key == "memoryRef" and isinstance(value, str):
                value = {"name": value}
            spec[key] = value
    spec.setdefault("runtime", {"type": "job"})
    if ctx.parameters:
        spec["parameters"] = dict(ctx.parameters)
    return resource_step("agent-run", TEMPLATE, ctx.step_label, spec=no_expansion_json(spec))


KIND = Kind("AgentRun", build, check, extra_keys=PASSED_THROUGH)
