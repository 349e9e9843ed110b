"""`Template` steps (new kind) call a template of a WorkflowTemplate through a
`templateRef` task. Argo takes retries and timeouts from the referenced
template, so a step that sets them is refused rather than silently ignored."""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Collector, FieldPath, Reason
from compiler.kinds.base import Emitted, Kind, StepContext, argo_literal, parameter
from compiler.models import Step


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    ref = step.get("templateRef")
    if not isinstance(ref, dict) or not ref:
        out.add(
            Reason.MISSING_STEP_FIELD,
            path.child("templateRef"),
            "a Template step needs templateRef {name, template}",
            names=("templateRef",),
        )
        return
    for key in ("name", "template"):
        if not ref.get(key):
            out.add(
                Reason.MISSING_STEP_FIELD,
                path.child("templateRef", key),
                f"templateRef needs {key}",
                names=(key,),
            )


def build(step: Step, ctx: StepContext) -> Emitted:
    assert step.template_ref is not None
    ref: dict[str, Any] = {"name": step.template_ref.name, "template": step.template_ref.template}
    if step.template_ref.cluster_scope:
        ref["clusterScope"] = True
    task: dict[str, Any] = {"templateRef": ref}
    if ctx.parameters:
        task["arguments"] = {
            "parameters": [parameter(k, argo_literal(v)) for k, v in ctx.parameters.items()]
        }
    return Emitted("", None, task, honours_retries=False, honours_timeout=False)


KIND = Kind("Template", build, check)
