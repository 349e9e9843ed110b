"""Submitting a resumed run: refused with `ResumeRefused` and the reason, or the
reused steps and the annotations that carry the old records to the mirror."""

from __future__ import annotations

import json

from controller.resuming import (
    NotResumable,
    Resumed,
    plan_resumption,
    resume_from,
    reused_records_of,
)
from orchapi.api import RESUMED_FROM_ANNOTATION, REUSED_RECORDS_ANNOTATION, Obj
from orchapi.graph import Graph, Node

GRAPH = Graph((Node("a", "Container", ()), Node("b", "Container", ("a",))))
ORCH: Obj = {"metadata": {"name": "o", "generation": 2}}


def new_run(rerun: list[str] | None = None) -> Obj:
    resume: Obj = {"name": "old"}
    if rerun is not None:
        resume["rerun"] = rerun
    return {"spec": {"orchestrationRef": {"name": "o"}, "resumeFrom": resume}}


OLD: Obj = {"spec": {"orchestrationRef": {"name": "o"}}, "status": {
    "phase": "Failed", "orchestrationGeneration": 2, "stepStatuses": [
        {"name": "a", "kind": "Container", "phase": "Succeeded", "startedAt": "t0",
         "finishedAt": "t1", "attempt": 1, "message": "succeeded"},
        {"name": "b", "kind": "Container", "phase": "Failed", "reason": "StepFailed"}]}}


def test_a_resume_of_an_ended_run_of_the_same_generation() -> None:
    found = plan_resumption(new_run(), ORCH, GRAPH, OLD)
    assert isinstance(found, Resumed)
    assert found.reused == frozenset({"a"})
    assert found.annotations[RESUMED_FROM_ANNOTATION] == "old"
    assert json.loads(found.annotations[REUSED_RECORDS_ANNOTATION]) == [
        {"name": "a", "kind": "Container", "startedAt": "t0", "finishedAt": "t1",
         "attempt": 1, "phase": "Succeeded", "reason": "Reused",
         "message": 'reused from run "old"'}]
    workflow = {"metadata": {"annotations": found.annotations}}
    assert reused_records_of(workflow)["a"]["startedAt"] == "t0"


def test_refusals_are_terminal_with_the_reason() -> None:
    assert plan_resumption(new_run(), ORCH, GRAPH, None) == NotResumable(
        "ResumeRefused", 'the run to resume from, "old", does not exist in this namespace')
    newer = {"metadata": {"name": "o", "generation": 3}}
    refused = plan_resumption(new_run(), newer, GRAPH, OLD)
    assert isinstance(refused, NotResumable) and "now at generation 3" in refused.message


def test_rerun_and_a_new_run() -> None:
    found = plan_resumption(new_run(["a"]), ORCH, GRAPH, OLD)
    assert isinstance(found, Resumed) and found.reused == frozenset()
    assert resume_from(new_run(["a"])) == ("old", ["a"])
    assert resume_from({"spec": {"orchestrationRef": {"name": "o"}}}) is None
