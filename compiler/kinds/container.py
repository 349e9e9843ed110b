"""`Container` steps (new kind) run an image. User values in command, args and
env travel unchanged through Argo and the kubelet (see `literal`): every `$` is
written `$$`, which Kubernetes' `$(VAR)` expansion turns back into one `$` (it
also collapses a plain `$$`, so escaping only `$(` would change `$$(x)`), and
`{{` is produced by that same expansion, after Argo is done with the pod.
The run's parameters and the step's `with` become environment variables."""

from __future__ import annotations

from typing import Any

from compiler.api import STEP_LABEL
from compiler.diagnostics import Collector, FieldPath
from compiler.kinds.base import (
    STEP_PARAM,
    Emitted,
    Kind,
    StepContext,
    argo_literal,
    check_name,
    parameter,
    require,
)
from compiler.models import Step
from compiler.names import ENV_VAR_NAME, IMAGE

# The kubelet, not Argo, writes the `{{` of user values: Argo substitutes a pod's
# template more than once (the output of an expression is re-read by the pass
# over the pod spec), so no `{{` may stand in the spec Argo sees at all.
BRACE_VAR = "ORCH_OPEN_BRACE"
_BRACE = "{$(" + BRACE_VAR + ")"


def literal(value: str) -> str:
    """`value` as neither Argo nor Kubernetes will expand it, once the kubelet has
    expanded it: every `$` doubled (`$$` becomes `$` again) and each `{{` written
    `{$(ORCH_OPEN_BRACE)`, the container's first variable holding `{`."""
    return value.replace("$", "$$").replace("{{", _BRACE)


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    require(step, "image", path, out, "the container image")
    if step.get("image"):
        check_name(step["image"], IMAGE, path.child("image"), out)
    env = step.get("env")
    if isinstance(env, list):
        for i, item in enumerate(env):
            if isinstance(item, dict):
                check_name(item.get("name"), ENV_VAR_NAME, path.child("env", i, "name"), out)


def build(step: Step, ctx: StepContext) -> Emitted:
    assert step.image is not None
    container: dict[str, Any] = {"image": argo_literal(step.image)}
    if step.command:
        container["command"] = [literal(c) for c in step.command]
    if step.args:
        container["args"] = [literal(a) for a in step.args]
    env = [{"name": e.name, "value": literal(e.value)} for e in step.env or ()]
    env += [{"name": k, "value": literal(v)} for k, v in ctx.parameters.items()]
    user_values = [
        *(step.command or ()),
        *(step.args or ()),
        *(e.value for e in step.env or ()),
        *ctx.parameters.values(),
    ]
    if any("{{" in v for v in user_values):
        env.insert(0, {"name": BRACE_VAR, "value": "{"})
    if env:
        container["env"] = env
    template = {
        "inputs": {"parameters": [{"name": STEP_PARAM}]},
        "metadata": {"labels": {STEP_LABEL: "{{inputs.parameters.step}}"}},
        "container": container,
    }
    task = {"arguments": {"parameters": [parameter(STEP_PARAM, ctx.step_label)]}}
    return Emitted(f"container-{step.name.lower()}", template, task)


KIND = Kind("Container", build, check, parameter_name=ENV_VAR_NAME)
