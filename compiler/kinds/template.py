"""`Template` steps (new kind) call a template of a WorkflowTemplate through a
`templateRef` task. Argo takes retries and timeouts from the referenced
template, so a step that sets them is refused rather than silently ignored.

The referenced template's pods are whatever its author wrote, run with the
Workflow's ServiceAccount (a ClusterWorkflowTemplate's author is usually a
cluster admin), so what a step may call is the install's pod policy's
`templateRefs` (`compiler.podpolicy`; by default a WorkflowTemplate of the
namespace, never a ClusterWorkflowTemplate)."""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Collector, FieldPath
from compiler.kinds.base import (
    Emitted,
    Kind,
    StepContext,
    argo_literal,
    check_name,
    parameter,
)
from compiler.podpolicy import PodAsks, judge_pod
from orchapi.models import Step
from orchapi.names import TEMPLATE, WORKFLOW_TEMPLATE_NAME
from orchapi.vocabulary import Reason


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
    for key, grammar in (("name", WORKFLOW_TEMPLATE_NAME), ("template", TEMPLATE)):
        if not ref.get(key):
            out.add(
                Reason.MISSING_STEP_FIELD,
                path.child("templateRef", key),
                f"templateRef needs {key}",
                names=(key,),
            )
        else:
            check_name(ref[key], grammar, path.child("templateRef", key), out)
    with_ = step.get("with")
    if isinstance(with_, dict):
        for key, value in with_.items():
            if isinstance(value, str) and "{{" in value:
                out.add(Reason.INVALID_FIELD, path.child("with", str(key)), VALUE_EXPANDED,
                        names=(str(key),), hint=VALUE_HINT)


# Contract §2: no encoding survives Argo's substitution inside the referenced
# WorkflowTemplate, so such a value is refused, not carried.
VALUE_EXPANDED = (
    "a value passed to a Template step may not hold '{{': Argo substitutes the "
    "WorkflowTemplate's own template after the arguments, so it would evaluate "
    "{{...}} in the value, and no encoding survives that")
VALUE_HINT = "pass it to a Container or resource step instead, or drop the braces"


def build(step: Step, ctx: StepContext) -> Emitted:
    assert step.template_ref is not None
    ref: dict[str, Any] = {"name": step.template_ref.name, "template": step.template_ref.template}
    if step.template_ref.cluster_scope:
        ref["clusterScope"] = True
    ctx.out.items.extend(judge_pod(PodAsks(ctx.path, template_ref=ref), ctx.pods.policy))
    task: dict[str, Any] = {"templateRef": ref}
    if ctx.parameters:
        task["arguments"] = {
            "parameters": [parameter(k, argo_literal(v)) for k, v in ctx.parameters.items()]
        }
    return Emitted("", None, task, honours_retries=False, honours_timeout=False)


KIND = Kind("Template", build, check, extra_keys=("templateRef",))
