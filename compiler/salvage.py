"""What an invalid Orchestration would still compile to, for the checks that only
compiling runs.

Why: some problems are found only when a step is built into its template (a
ToolRun's Tool missing or failing to render, retries or a timeout Argo cannot
apply on a Template step, a run parameter a step cannot take) or across
Orchestrations (a SubOrchestration cycle). Those checks need a model, and an
Orchestration with any error had none, so one problem hid others: a
`ToolNotFound` appeared only after a `MissingDependency` elsewhere was fixed
(contract §2: every problem at once). `salvage` keeps every step that is usable
on its own (its kind's checks and the step model pass) in its place, puts an
inert stand-in where a step is not, and drops what only the graph needs
(`dependsOn`, which the graph checks have judged already), so the compile checks
run on every document and report at the step's own path.

An invalid OrchestrationRun is salvaged the same way (`salvage_run`): what its
Workflow is compiled from (its Orchestration's name, its namespace, the parameters
whose names and values are usable) is kept, the rest dropped (its own checks have
judged it), so the problems only its pairing finds (its Orchestration not in the
input, a parameter a step cannot take, a Tool's parameter it does not give) are
reported beside its own.

What the salvaged model compiles to is never output: it is not the user's
Orchestration. Problems of the Workflow as a whole (`WorkflowTooLarge`) are not
taken from it: they are the real Workflow's to report.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from compiler.diagnostics import Collector, Diagnostic, FieldPath
from compiler.kinds import KINDS, RESERVED_TEMPLATE_NAMES
from compiler.kinds.base import check_with_keys
from orchapi.api import API_VERSION, RUN_KIND
from orchapi.models import Orchestration, OrchestrationRun, Step
from orchapi.names import DNS_SUBDOMAIN_NAME, NAMESPACE, PARAMETER, TEMPLATE
from orchapi.vocabulary import Reason

STEPS = FieldPath(("spec", "steps"))
_STAND_IN_KIND = "Checkpoint"  # a no-op: it compiles to nothing that can be wrong
_PLACEHOLDER_NAME = "orchestration"
_PLACEHOLDER_RUN = "run"
# Whole-Workflow problems: judged on the real Workflow only.
WHOLE_WORKFLOW = frozenset({Reason.WORKFLOW_TOO_LARGE})


def is_usable_step(step: Any, index: int) -> bool:
    """A step its kind can build: a mapping with a name, a kind orch compiles, no
    error from its kind's own checks or its `with` keys, and a valid step model
    (types and bounds), its `dependsOn` left out."""
    if not isinstance(step, dict):
        return False
    name, kind = step.get("name"), step.get("kind")
    if not isinstance(name, str) or not name or not isinstance(kind, str) or kind not in KINDS:
        return False
    body = _without_graph(step)
    scratch = Collector()
    KINDS[kind].check(body, STEPS.child(index), scratch)
    check_with_keys(body, STEPS.child(index), scratch, KINDS[kind].parameter_name)
    if any(d.is_error for d in scratch.items):
        return False
    from pydantic import ValidationError  # an invalid document's path: pydantic judges

    try:
        Step.model_validate(body)
    except ValidationError:
        return False
    return True


def _without_graph(step: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in step.items() if k != "dependsOn"}


def salvage(data: Any) -> Orchestration | None:
    """The usable part of an Orchestration document (see the module's docstring);
    None when no step is usable."""
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
        return None
    spec = data["spec"]
    steps = spec.get("steps")
    if not isinstance(steps, list):
        return None
    kept: list[dict[str, Any]] = []
    names: set[str] = set()
    usable = 0
    for i, step in enumerate(steps):
        if is_usable_step(step, i) and step["name"] not in names:
            kept.append(_without_graph(step))
            names.add(step["name"])
            usable += 1
        else:
            kept.append({"name": "", "kind": _STAND_IN_KIND})  # named below
    if not usable:
        return None
    taken = set(names)
    for i, step in enumerate(kept):
        if not step["name"]:
            step["name"] = _free_name(f"orch-stand-in-{i}", taken)
    meta = data.get("metadata")
    name, namespace = (meta.get("name"), meta.get("namespace")) if isinstance(meta, dict) \
        else (None, None)
    new_spec: dict[str, Any] = {"steps": kept}
    entry = spec.get("entrypoint")
    if isinstance(entry, str) and TEMPLATE.problem(entry) is None \
            and entry not in RESERVED_TEMPLATE_NAMES:
        new_spec["entrypoint"] = entry
    body = {
        "apiVersion": data.get("apiVersion"), "kind": data.get("kind"),
        "metadata": {
            "name": name if isinstance(name, str) and DNS_SUBDOMAIN_NAME.problem(name) is None
            else _PLACEHOLDER_NAME,
            **({"namespace": namespace} if isinstance(namespace, str)
               and NAMESPACE.problem(namespace) is None else {}),
        },
        "spec": new_spec,
    }
    from pydantic import ValidationError  # an invalid document's path: pydantic judges

    for policies in (spec.get("policies"), None):  # what the step settings default from
        if policies is not None:
            body["spec"] = {**new_spec, "policies": policies}
        else:
            body["spec"] = new_spec
        try:
            return Orchestration.model_validate(body)
        except ValidationError:
            continue
    return None


def salvage_run(data: Any) -> OrchestrationRun | None:
    """The usable part of an OrchestrationRun document (see the module's docstring);
    None when it names no Orchestration it could be paired with."""
    spec = data.get("spec") if isinstance(data, dict) else None
    if not isinstance(spec, dict):
        return None
    ref = spec.get("orchestrationRef")
    called = ref.get("name") if isinstance(ref, dict) else None
    if not isinstance(called, str) or DNS_SUBDOMAIN_NAME.problem(called) is not None:
        return None
    params = spec.get("parameters")
    kept = {k: v for k, v in params.items() if isinstance(k, str) and isinstance(v, str)
            and PARAMETER.problem(k) is None} if isinstance(params, dict) else {}
    meta = data.get("metadata")
    name, namespace = (meta.get("name"), meta.get("namespace")) if isinstance(meta, dict) \
        else (None, None)
    body = {
        "apiVersion": API_VERSION, "kind": RUN_KIND,
        "metadata": {
            "name": name if isinstance(name, str) and DNS_SUBDOMAIN_NAME.problem(name) is None
            else _PLACEHOLDER_RUN,
            **({"namespace": namespace} if isinstance(namespace, str)
               and NAMESPACE.problem(namespace) is None else {}),
        },
        "spec": {"orchestrationRef": {"name": called}, **({"parameters": kept} if kept else {})},
    }
    from pydantic import ValidationError  # an invalid document's path: pydantic judges
    try:
        return OrchestrationRun.model_validate(body)
    except ValidationError:
        return None


def _free_name(base: str, taken: set[str]) -> str:
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


def compile_problems(found: Iterable[Diagnostic]) -> list[Diagnostic]:
    """What a salvaged model's compilation says that the real Workflow would say
    too: everything but the whole Workflow's problems."""
    return [d for d in found if d.reason not in WHOLE_WORKFLOW]
