"""The shared shape of every kind that creates a Kubernetes object and waits on
its status: one `resource` template per kind, the per-step object spec as its
argument."""

from __future__ import annotations

from typing import Any

from compiler.kinds.base import STEP_PARAM, Emitted, Template, parameter
from orchapi.api import STEP_LABEL
from orchapi.argo import ARGO_API_VERSION, ARGO_WORKFLOW_LABEL, WORKFLOW_KIND


def create_template(api_version: str, kind: str, success: str, failure: str,
                    annotations: dict[str, str] | None = None,
                    inputs: list[str] | None = None) -> Template:
    """Create one `kind` object from the JSON spec a task hands in, and wait on
    its status; `annotations` (orch's own text, never a user's, or a reference to
    one of the further `inputs`, which are orch's own too) go on it. The
    object is owned by the Workflow (garbage collected with it) through an
    ownerReference written here, not Argo's `setOwnerReference`: that
    option makes the controller parse and re-write the manifest, which decodes
    the escapes that keep `{{` in user values from Argo (see `no_expansion_json`)
    before Argo's last substitution pass over the pod."""
    annotated = "".join(f"    {k}: '{v}'\n" for k, v in (annotations or {}).items())
    manifest = (
        f"apiVersion: {api_version}\n"
        f"kind: {kind}\n"
        "metadata:\n"
        "  generateName: '{{workflow.name}}-{{=sprig.lower(inputs.parameters.step)}}-'\n"
        "  labels:\n"
        f"    {STEP_LABEL}: '{{{{inputs.parameters.step}}}}'\n"
        f"    {ARGO_WORKFLOW_LABEL}: '{{{{workflow.name}}}}'\n"
        + (f"  annotations:\n{annotated}" if annotated else "")
        + "  ownerReferences:\n"
        f"  - apiVersion: {ARGO_API_VERSION}\n"
        f"    kind: {WORKFLOW_KIND}\n"
        "    name: '{{workflow.name}}'\n"
        "    uid: '{{workflow.uid}}'\n"
        "    blockOwnerDeletion: true\n"
        "spec: {{inputs.parameters.spec}}\n"
    )
    return _template(
        ["spec", *(inputs or ())],
        {
            "action": "create",
            "successCondition": success,
            "failureCondition": failure,
            "manifest": manifest,
        },
    )


def _template(inputs: list[str], resource: dict[str, Any]) -> Template:
    return {
        "inputs": {"parameters": [{"name": STEP_PARAM}] + [{"name": n} for n in inputs]},
        "metadata": {"labels": {STEP_LABEL: "{{inputs.parameters.step}}"}},
        "resource": resource,
    }


def resource_step(base_name: str, template: Template, step_label: str, **args: str) -> Emitted:
    arguments = [parameter(STEP_PARAM, step_label)]
    arguments += [parameter(k, v) for k, v in args.items()]
    return Emitted(base_name, template, {"arguments": {"parameters": arguments}})
