"""`ToolRun` steps create a `tools.proompteng.ai` ToolRun and wait on it."""

from __future__ import annotations

from typing import Any

from compiler.api import TOOLS_API_VERSION
from compiler.diagnostics import Collector, FieldPath
from compiler.kinds.base import Emitted, Kind, StepContext, no_expansion_json, require_ref
from compiler.kinds.resource import create_template, resource_step
from compiler.models import Step

KEYS = ("deliveryId", "runtime")  # ToolRun spec fields a step carries through
TEMPLATE = create_template(
    TOOLS_API_VERSION,
    "ToolRun",
    "status.phase == Succeeded",
    "status.phase in (Failed,Cancelled)",
)


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    require_ref(step, "toolRef", path, out, "the Tool to run, {name: ...}")


def build(step: Step, ctx: StepContext) -> Emitted:
    assert step.tool_ref is not None
    spec: dict[str, Any] = {"toolRef": {"name": step.tool_ref.name}}
    for key in KEYS:
        if key in step.extras:
            spec[key] = step.extras[key]
    if ctx.parameters:
        spec["parameters"] = dict(ctx.parameters)
    return resource_step("tool-run", TEMPLATE, ctx.step_label, spec=no_expansion_json(spec))


KIND = Kind("ToolRun", build, check, extra_keys=KEYS)
