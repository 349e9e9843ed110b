"""`Container` steps (new kind) run an image. Their own command, args and env text
keeps Kubernetes' meaning, as a Job's would (contract §4): a `$(VAR)` the kubelet
expands, `$$` an escaped `$` (see `own_text`). Values (the run's parameters and the
step's `with`, which become environment variables; a Tool's rendered parameters)
travel unchanged through Argo and the kubelet (see `literal`): every `$` is
written `$$`, which Kubernetes' `$(VAR)` expansion turns back into one `$` (it
also collapses a plain `$$`, so escaping only `$(` would change `$$(x)`), and
`{{` is produced by that same expansion, after Argo is done with the pod.

The other fields of a Kubernetes container a step may set (`CARRIED_FIELDS`)
are carried unchanged, checked against the Kubernetes schema; the ones that
make no sense for a step are refused by name (`REFUSED_FIELDS`). Kubernetes
does not expand `$(VAR)` in them, so a `{{` there cannot be protected and is
refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from compiler.diagnostics import Collector, FieldPath
from compiler.kinds.base import (
    STEP_PARAM,
    Emitted,
    Kind,
    StepContext,
    check_name,
    parameter,
    require,
)
from compiler.kinds.container_names import check_container_names
from compiler.podpolicy import Asked, PodAsks, judge_pod
from compiler.pods import container_security_context, executor_patch
from compiler.schema_check import check_value, definition, load_schema, normalized
from orchapi.api import STEP_LABEL
from orchapi.models import Step
from orchapi.names import ENV_VAR_NAME, IMAGE, quote, suggest
from orchapi.vocabulary import Reason

# The kubelet, not Argo, writes the `{{` of user values: Argo substitutes a pod's
# template more than once (the output of an expression is re-read by the pass
# over the pod spec), so no `{{` may stand in the spec Argo sees at all.
BRACE_VAR = "ORCH_OPEN_BRACE"
_BRACE = "{$(" + BRACE_VAR + ")"

# Fields of a Kubernetes container that a step carries, in Kubernetes' order.
CARRIED_FIELDS = (
    "image", "command", "args", "workingDir", "envFrom", "env", "resources", "volumeMounts",
    "volumeDevices", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
    "securityContext",
)

TEMPLATE_NAME = "container-"  # + the step's name
# Fields of the Argo template beside the container: the volumes its mounts name.
TEMPLATE_FIELDS = ("volumes",)
# Container fields a step may not set, and why (a step's `name` is its own: Argo
# names the container `main`).
REFUSED_FIELDS = {
    "ports": "nothing reaches a step's pod through a port",
    "livenessProbe": "a step runs to completion; a probe would restart or stall it",
    "readinessProbe": "a step runs to completion; a probe would restart or stall it",
    "startupProbe": "a step runs to completion; a probe would restart or stall it",
    "lifecycle": "Argo's executor wraps the step's process; hooks would run outside it",
    "stdin": "nothing attaches to a step's pod",
    "stdinOnce": "nothing attaches to a step's pod",
    "tty": "nothing attaches to a step's pod",
    "resizePolicy": "a step's pod is never resized in place",
    "restartPolicy": "only init containers take a restart policy",
    "restartPolicyRules": "only init containers take restart rules",
}
_TYPED = ("image", "command", "args", "env")  # typed by the models; checked here by hand
_ENV_KEYS = ("name", "value", "valueFrom")


def _not_reserved(name: str) -> str | None:
    if name == BRACE_VAR:
        return f"is reserved: orch defines {BRACE_VAR} to write the '{{{{' of user values"
    return None


# A Container's environment variable names (its env, `with` keys, run parameters).
ENV_NAME = dataclasses.replace(ENV_VAR_NAME, extra=_not_reserved)


def literal(value: str) -> str:
    """`value` as neither Argo nor Kubernetes will expand it, once the kubelet has
    expanded it: every `$` doubled (`$$` becomes `$` again) and each `{{` written
    `{$(ORCH_OPEN_BRACE)`, the container's first variable holding `{`."""
    return value.replace("$", "$$").replace("{{", _BRACE)


def own_text(text: str) -> str:
    """Text a step or its Tool wrote itself, written so that after Argo the kubelet
    reads it as it would have read it in the reference's Job: each `$(NAME)` and
    `$$` it holds stays as written (the kubelet expands or collapses it), every
    other `$` is doubled (the kubelet writes it as it is, so the text never joins
    its neighbour's), a reference to no variable a container can have (a name
    holding `{{`, or the variable orch defines) is escaped as the kubelet would
    leave it, and `{{` is produced by the kubelet, as in `literal`. The scan is
    Kubernetes' own (expand.go `Expand`, `tryReadVariableName`)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] != "$":
            if text.startswith("{{", i):
                out.append(_BRACE)
                i += 2
            else:
                out.append(text[i])
                i += 1
            continue
        after = text[i + 1:i + 2]
        close = text.find(")", i + 2) if after == "(" else -1
        if after == "$":  # an escaped `$`: the kubelet writes one
            out.append("$$")
            i += 2
        elif close >= 0:  # `$(NAME)`: the kubelet expands it, or writes it as it is
            name = text[i + 2:close]
            own = "{{" not in name and name != BRACE_VAR
            out.append(text[i:close + 1] if own else "$$(" + literal(name) + ")")
            i = close + 1
        else:  # a `$` the kubelet writes as it is: before another character, or last
            out.append("$$")
            i += 1
    return "".join(out)


def written(pieces: Iterable[tuple[bool, str]]) -> str:
    """A field made of own text (False) and values (True), each written so that the
    kubelet reads it alone (`own_text`, `literal`); a `{{` two pieces form where
    they meet is produced by the kubelet too."""
    text = "".join(literal(t) if value else own_text(t) for value, t in pieces)
    return text.replace("{{", _BRACE)


def needs_brace(values: Iterable[str]) -> bool:
    """Whether written text uses the variable holding `{` (then defined first)."""
    return any(_BRACE in v for v in values)


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    require(step, "image", path, out, "the container image")
    if step.get("image"):
        check_name(step["image"], IMAGE, path.child("image"), out)
    for key, why in REFUSED_FIELDS.items():
        if key in step:
            out.add(Reason.INVALID_FIELD, path.child(key),
                    f"a Container step cannot set {key}: {why}", names=(key,))
    for key in (*CARRIED_FIELDS, *TEMPLATE_FIELDS):
        if key in step and key not in _TYPED:
            check_carried(step, key, path, out)
    env = step.get("env")
    if isinstance(env, list):
        for i, item in enumerate(env):
            if isinstance(item, dict):
                _check_env(item, path.child("env", i), out)
    check_container_names(step, path, out)


def check_carried(step: dict[str, Any], key: str, path: FieldPath, out: Collector) -> None:
    """A container (or template) field a step carries: Kubernetes' schema, no `{{`."""
    node = definition("V1Container")["properties"].get(key) or \
        load_schema()["templateFields"][key]
    check_value(step[key], node, path.child(key), out)
    _refuse_braces(step[key], path.child(key), out)
    if key == "securityContext" and isinstance(step[key], dict):
        _check_security_context(step[key], path.child(key), out)


def _check_security_context(sc: dict[str, Any], path: FieldPath, out: Collector) -> None:
    """What the apiserver's validation refuses in a container's securityContext, so
    the pod would never start (k8s.io/kubernetes v1.36.3 pkg/apis/core/validation
    validation.go ValidateSecurityContext): no escalation beside privileged or an
    added CAP_SYS_ADMIN, and an Unmasked /proc only with `hostUsers: false`, which
    a step cannot set."""
    if sc.get("allowPrivilegeEscalation") is False:
        added = (sc.get("capabilities") or {}).get("add") if isinstance(
            sc.get("capabilities"), dict) else None
        for key, bad in (("privileged", sc.get("privileged") is True),
                         ("capabilities", isinstance(added, list) and "CAP_SYS_ADMIN" in added)):
            if bad:
                out.add(Reason.INVALID_FIELD, path.child("allowPrivilegeEscalation"),
                        f"allowPrivilegeEscalation: false cannot stand beside {key} "
                        f"{'true' if key == 'privileged' else 'add CAP_SYS_ADMIN'} "
                        "(Kubernetes refuses the pod)", names=("allowPrivilegeEscalation", key))
    if sc.get("procMount") == "Unmasked":
        out.add(Reason.INVALID_FIELD, path.child("procMount"),
                "procMount Unmasked needs the pod's hostUsers: false, which a step cannot "
                "set (Kubernetes refuses the pod)", names=("procMount",))


def _check_env(item: dict[str, Any], path: FieldPath, out: Collector) -> None:
    check_name(item.get("name"), ENV_NAME, path.child("name"), out)
    for key in item:
        if key not in _ENV_KEYS:
            guess = suggest(str(key), _ENV_KEYS)
            out.add(Reason.INVALID_FIELD, path.child(str(key)), f"unknown field {quote(str(key))}",
                    hint=f'did you mean "{guess}"?' if guess else None, names=(str(key),))
    if "valueFrom" in item:
        check_value(item["valueFrom"], {"$ref": "V1EnvVarSource"}, path.child("valueFrom"), out)
        _refuse_braces(item["valueFrom"], path.child("valueFrom"), out)
        if item.get("value"):
            out.add(Reason.INVALID_FIELD, path.child("value"),
                    "an env var takes value or valueFrom, not both (Kubernetes refuses it)")


def _strings(value: Any, path: FieldPath) -> Iterator[tuple[str, FieldPath]]:
    if isinstance(value, str):
        yield value, path
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, path.child(i))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key), path.child(str(key))
            yield from _strings(item, path.child(str(key)))


def _refuse_braces(value: Any, path: FieldPath, out: Collector) -> None:
    for text, where in _strings(value, path):
        if "{{" in text:
            out.add(Reason.INVALID_FIELD, where,
                    f"{quote(text)} holds '{{{{': Argo would evaluate it, and Kubernetes does "
                    "not expand $(VAR) in this field, so orch cannot carry it unchanged")


def build(step: Step, ctx: StepContext) -> Emitted:
    assert step.image is not None
    extras = step.extras
    fields: dict[str, Any] = {"image": step.image}
    if step.command:
        fields["command"] = [own_text(c) for c in step.command]
    if step.args:
        fields["args"] = [own_text(a) for a in step.args]
    env: list[dict[str, Any]] = []
    for e in step.env or ():
        item: dict[str, Any] = {"name": e.name}
        if e.value is not None:
            item["value"] = own_text(e.value)
        if e.value_from is not None:
            item["valueFrom"] = normalized(e.value_from, {"$ref": "V1EnvVarSource"})
        env.append(item)
    own_env = list(env)  # the step's own, at its indices (judged below)
    env += [{"name": k, "value": literal(v)} for k, v in ctx.parameters.items()]
    texts = [*fields.get("command", ()), *fields.get("args", ()),
             *(e.get("value", "") for e in env)]
    if needs_brace(texts):
        env.insert(0, {"name": BRACE_VAR, "value": "{"})
    if env:
        fields["env"] = env
    schema = definition("V1Container")["properties"]
    fields.update((k, normalized(extras[k], schema[k])) for k in CARRIED_FIELDS if k in extras)
    container = {k: fields[k] for k in CARRIED_FIELDS if k in fields}
    template: dict[str, Any] = {
        "inputs": {"parameters": [{"name": STEP_PARAM}]},
        "metadata": {"labels": {STEP_LABEL: "{{inputs.parameters.step}}"}},
        "container": container,
    }
    template.update((k, normalized(extras[k], load_schema()["templateFields"][k]))
                    for k in TEMPLATE_FIELDS if k in extras)
    own = container.pop("securityContext", None)
    security = container_security_context(ctx.pods, own)  # the step's own wins
    if security is not None:
        container["securityContext"] = security
    if ctx.pods.restricted:
        template["podSpecPatch"] = executor_patch()
    ctx.out.items.extend(judge_pod(PodAsks(
        ctx.path, own, template.get("volumes") or (), own_env, container.get("envFrom") or (),
        images=[Asked(step.image, ctx.path.child("image"), f"image {quote(step.image)}")],
    ), ctx.pods.policy))
    task = {"arguments": {"parameters": [parameter(STEP_PARAM, ctx.step_label)]}}
    return Emitted(f"{TEMPLATE_NAME}{step.name.lower()}", template, task)


KIND = Kind("Container", build, check, template=TEMPLATE_NAME, parameter_name=ENV_NAME,
            extra_keys=(*CARRIED_FIELDS, *TEMPLATE_FIELDS, *REFUSED_FIELDS))
