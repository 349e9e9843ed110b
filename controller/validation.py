"""An Orchestration from the cluster -> its diagnostics (contract §2), pure.

Why: the compiler validates documents parsed from files; the controller gets
dicts from the apiserver, which carry server-set metadata (uid, managedFields,
...) and no line numbers. This module cuts a cluster object down to the
document a user wrote, runs the compiler's own checks on it, and orders the
problems in document order (apiVersion, kind, metadata, spec; list items by
index), which is what the `Ready=False` reason and message follow.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from compiler.diagnostics import Collector, Diagnostic
from compiler.emit import EmitSettings, emit_workflow
from compiler.emit_run import CompiledRun, emit_run
from compiler.podpolicy import OPEN_POLICY
from compiler.pods import DEFAULT_PODS, PodSettings
from compiler.salvage import compile_problems, salvage, salvage_run
from compiler.tools import Tool
from compiler.validate import check_document_kind, check_orchestration, check_run, check_tool
from orchapi.api import MAX_STEPS, ORCHESTRATION_KIND, TOOLS_API_VERSION
from orchapi.models import Orchestration, OrchestrationRun

_TOP = {"apiVersion": 0, "kind": 1, "metadata": 2, "spec": 3}
_META_KEYS = ("name", "namespace", "labels", "annotations", "generation", "uid")


def user_document(obj: Mapping[str, Any]) -> dict[str, Any]:
    """apiVersion, kind, the user-facing metadata and spec; status dropped."""
    meta = obj.get("metadata") or {}
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {k: meta[k] for k in _META_KEYS if k in meta},
        "spec": obj.get("spec"),
    }


def _order(d: Diagnostic) -> tuple[tuple[int, int, str], ...]:
    parts: list[tuple[int, int, str]] = []
    for i, part in enumerate(d.path.parts):
        if isinstance(part, int):
            parts.append((1, part, ""))
        else:
            parts.append((0, _TOP.get(part, 9) if i == 0 else 0, str(part)))
    return tuple(parts)


def in_document_order(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Stable: problems at one path keep the order the checks found them in."""
    return sorted(diagnostics, key=_order)


JUDGED_AT_SUBMISSION = PodSettings(policy=OPEN_POLICY)


def check_orchestration_object(obj: Mapping[str, Any], max_steps: int = MAX_STEPS,
                               ) -> tuple[list[Diagnostic], Orchestration | None]:
    """Every error of an Orchestration (validation, then what only compiling shows,
    split into several Workflows past one DAG: contract §8), in document order, and
    the model when there is none."""
    doc = user_document(obj)
    out = Collector()
    model = None
    if check_document_kind(doc, out) == ORCHESTRATION_KIND:
        model = check_orchestration(doc, out, max_steps=max_steps)
    errors = [d for d in out.items if d.is_error]
    if errors or model is None:
        # What only compiling finds, in the steps that are usable: every problem
        # at once (contract §2), not one that hides behind another.
        salvaged = salvage(doc) if doc.get("kind") == ORCHESTRATION_KIND else None
        if salvaged is not None:
            found = Collector()
            emit_workflow(salvaged, None, found)
            errors += [d for d in compile_problems(found.items) if d.is_error]
        return in_document_order(errors), None
    compiled = Collector()
    # Not the install's pod policy: it is judged when a run is submitted
    # (`compile_run`), so an Orchestration's status, written once per generation,
    # does not go stale when the install's policy changes.
    emit_run(model, None, compiled, EmitSettings(pods=JUDGED_AT_SUBMISSION))
    errors = [d for d in compiled.items if d.is_error]
    return in_document_order(errors), (None if errors else model)


def compile_run(orchestration: Orchestration, run_obj: Mapping[str, Any],
                service_account: str | None, pods: PodSettings = DEFAULT_PODS,
                reused: Collection[str] = (), tools: Mapping[str, Tool] | None = None,
                descendants: Mapping[str, int] | None = None,
                ) -> tuple[list[Diagnostic], CompiledRun | None]:
    """The run's Workflows (one, or several when it is split: contract §8;
    `reused`: a resumed run's reused steps, as no-ops), or the problems that
    prevent them. `tools`: the Tools of its ToolRun steps that
    exist in the run's namespace, by name."""
    doc = user_document(run_obj)
    ns = (run_obj.get("metadata") or {}).get("namespace")
    settings = EmitSettings(
        service_account=service_account, pods=pods, reused=reused, tools=dict(tools or {}),
        tools_where=f'in namespace "{ns}"',
        # In the cluster's words: the CLI's "add the Tool to the input" means nothing here.
        tools_hint=f'create the Tool ({TOOLS_API_VERSION}) in namespace "{ns}", or fix '
                   "the step's toolRef",
        descendants=descendants)
    out = Collector()
    run = check_run(doc, out)
    errors = [d for d in out.items if d.is_error]
    if errors or run is None:
        # Every problem at once (contract §2): what only compiling the run finds, from
        # its usable part (compiler.salvage), beside its own.
        salvaged = salvage_run(doc)
        if salvaged is not None:
            more, _ = _compile(orchestration, salvaged, settings)
            errors += compile_problems(more)
        return in_document_order(errors), None
    errors, compiled = _compile(orchestration, run, settings)
    return in_document_order(errors), (None if errors else compiled)


def _compile(orchestration: Orchestration, run: OrchestrationRun,
             settings: EmitSettings) -> tuple[list[Diagnostic], CompiledRun]:
    out = Collector()
    compiled = emit_run(orchestration, run, out, settings)
    return [d for d in out.items if d.is_error], compiled


def check_tool_object(obj: Mapping[str, Any]) -> tuple[list[Diagnostic], Tool | None]:
    """A Tool read from the cluster, judged as `orch` judges one in its input."""
    out = Collector()
    tool = check_tool(user_document(obj), out)
    return in_document_order([d for d in out.items if d.is_error]), tool
