"""Submitting a resumed run (contract §3): which of its steps are reused, and the
Workflow annotations that carry that to the mirror; or why it is refused. Pure:
the executor reads the old run from the apiserver and compiles.

Why annotations: the mirror is level-based and may run long after the old run
was deleted, so the Workflow itself carries what a reused step shows (the run it
came from, and the old run's records of those steps: start, finish, attempt, what
each created). Its reused steps are told apart by their tasks' template
(`compiler.resume.REUSED_TEMPLATE`), from structure alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.compiled import step_nodes
from compiler.resume import decide_resume, old_steps, resume_problem, reused_records
from orchapi.api import RESUMED_FROM_ANNOTATION, REUSED_RECORDS_ANNOTATION, Obj
from orchapi.argo import ArgoPhase
from orchapi.graph import Graph
from orchapi.vocabulary import StepPhase, SubmitReason


@dataclass(frozen=True)
class Resumed:
    reused: frozenset[str]
    annotations: dict[str, str]


@dataclass(frozen=True)
class NotResumable:
    reason: str
    message: str


def resume_from(run: Mapping[str, Any]) -> tuple[str, list[str]] | None:
    """`spec.resumeFrom`'s run name and `rerun` steps, or None for a new run."""
    spec = (run.get("spec") or {}).get("resumeFrom")
    if not isinstance(spec, Mapping) or not spec.get("name"):
        return None
    return str(spec["name"]), [str(s) for s in spec.get("rerun") or ()]


def plan_resumption(run: Mapping[str, Any], orchestration: Mapping[str, Any], graph: Graph,
                    old_run: Mapping[str, Any] | None,
                    old_workflows: Sequence[Mapping[str, Any]] = ()) -> Resumed | NotResumable:
    """What a run with `spec.resumeFrom` reuses, or why it cannot resume (terminal:
    the run fails with `Submitted=False`, reason `ResumeRefused`, nothing submitted).
    `old_workflows`: a split old run's Workflows that still exist, for the records
    of the steps its budgeted status does not list (`budgeted_records`)."""
    found = resume_from(run)
    assert found is not None, "not a resumed run"
    name, rerun = found
    meta = orchestration.get("metadata") or {}
    problem = resume_problem(old_run, name, str(meta.get("name") or ""),
                             meta.get("generation"), graph, rerun)
    if problem is not None:
        return NotResumable(SubmitReason.RESUME_REFUSED, problem)
    assert old_run is not None
    steps = {**budgeted_records(old_run, graph, old_workflows), **old_steps(old_run)}
    decision = decide_resume(graph, name, steps, rerun)
    records = reused_records(decision, steps)
    return Resumed(frozenset(decision.reused), {
        RESUMED_FROM_ANNOTATION: name,
        REUSED_RECORDS_ANNOTATION: json.dumps(records, separators=(",", ":"),
                                              ensure_ascii=False)})


def reused_records_of(workflow: Mapping[str, Any]) -> dict[str, Obj]:
    """The records a resumed run's Workflow carries, by step name."""
    annotations = (workflow.get("metadata") or {}).get("annotations") or {}
    try:
        records = json.loads(annotations.get(REUSED_RECORDS_ANNOTATION) or "[]")
    except ValueError:
        return {}
    return {str(r["name"]): r for r in records if isinstance(r, dict) and r.get("name")}


def budgeted_records(old_run: Mapping[str, Any], graph: Graph,
                     old_workflows: Sequence[Mapping[str, Any]] = ()) -> dict[str, Obj]:
    """The records of the steps a split old run's status does not list (contract
    §8: past 256 KiB it lists the steps that did not succeed and counts all of them
    in `stepCounts`): when the listed ones add up to the counts that did not
    succeed, every step missing from the list succeeded, and is reused; its start
    and finish are read from its node in the old run's Workflows while they exist,
    else the record holds only its name. None is made when the list is short (a
    missing step may then have failed: it reruns)."""
    status = old_run.get("status") or {}
    counts = status.get("stepCounts")
    if not isinstance(counts, list):
        return {}
    listed = [s for s in status.get("stepStatuses") or () if isinstance(s, Mapping)]
    unsucceeded = sum(int(c.get("count") or 0) for c in counts if isinstance(c, Mapping)
                      and c.get("phase") != StepPhase.SUCCEEDED)
    if unsucceeded != sum(1 for s in listed if s.get("phase") != StepPhase.SUCCEEDED):
        return {}
    names = {s.get("name") for s in listed}
    missing = [n for n in graph.names if n not in names]
    nodes = {name: n for name, n in step_nodes(old_workflows, set(missing)).items()
             if n.get("phase") == ArgoPhase.SUCCEEDED}
    out: dict[str, Obj] = {}
    for node in graph.nodes:
        if node.name in names:
            continue
        record: Obj = {"name": node.name, "kind": node.kind, "phase": str(StepPhase.SUCCEEDED)}
        found = nodes.get(node.name) or {}
        for key in ("startedAt", "finishedAt"):
            if found.get(key):
                record[key] = found[key]
        out[node.name] = record
    return out
