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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compiler.resume import decide_resume, old_steps, resume_problem, reused_records
from orchapi.api import RESUMED_FROM_ANNOTATION, REUSED_RECORDS_ANNOTATION, Obj
from orchapi.graph import Graph
from orchapi.vocabulary import SubmitReason


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
                    old_run: Mapping[str, Any] | None) -> Resumed | NotResumable:
    """What a run with `spec.resumeFrom` reuses, or why it cannot resume (terminal:
    the run fails with `Submitted=False`, reason `ResumeRefused`, nothing submitted)."""
    found = resume_from(run)
    assert found is not None, "not a resumed run"
    name, rerun = found
    meta = orchestration.get("metadata") or {}
    problem = resume_problem(old_run, name, str(meta.get("name") or ""),
                             meta.get("generation"), graph, rerun)
    if problem is not None:
        return NotResumable(SubmitReason.RESUME_REFUSED, problem)
    assert old_run is not None
    steps = old_steps(old_run)
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
