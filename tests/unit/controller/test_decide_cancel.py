"""`controller.decide` for cancel (contract §3), one row per case, and the safety
rule "a cancelled run is never submitted" as a property over generated
observations (the generators of tests/unit/controller/test_decide.py, cancelled)."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
from hypothesis import given, settings

from controller.cancel import CancelPlan
from controller.decide import (
    Cancel,
    Create,
    Created,
    Done,
    Fetch,
    Need,
    Observed,
    WriteStatus,
    decide,
)
from orchapi.api import Obj
from tests.unit.controller.helpers import compiled, node, with_status
from tests.unit.controller.test_decide import (
    DIAMOND,
    ORCH,
    READY,
    RUNNING,
    SEALER,
    SUBMITTED,
    SUCCEEDED,
    cond,
    observations,
    observed,
    owned,
    run,
    table,
)


def cancelled(r: Obj) -> Obj:
    return {**r, "spec": {**r["spec"], "cancel": True}}


def child(name: str, phase: str = "Running") -> Obj:
    """A run the Workflow's SubOrchestration step created (label and owner)."""
    return {"metadata": {"name": name, "uid": f"uid-{name}",
                         "labels": {"workflows.argoproj.io/workflow": RUNNING["metadata"]["name"]},
                         "ownerReferences": [{"kind": "Workflow",
                                              "uid": RUNNING["metadata"]["uid"]}]},
            "spec": {}, "status": {"phase": phase}}


RUNNING_RUN = cancelled(run(SUBMITTED))


def test_a_cancelled_run_with_a_running_workflow_first_reads_what_it_created() -> None:
    assert decide(observed(RUNNING_RUN, workflow=RUNNING)) == Fetch(Need.CREATED)


def test_then_stops_the_workflow_and_cancels_the_running_child_then_writes_cancelled() -> None:
    o = observed(RUNNING_RUN, workflow=RUNNING,
                 created=Created((child("kid"), child("done-kid", "Succeeded")),
                                 (child("agent"),)))
    assert decide(o) == Cancel(RUNNING, CancelPlan(True, ("kid",), (("agent", "uid-agent"),)))
    after = decide(replace(o, cancel_applied=True))
    assert isinstance(after, WriteStatus)
    assert after.status["phase"] == "Cancelled"
    assert cond(after.status, "Succeeded") == ("False", "Cancelled")
    # a -> b, c -> d: a done, b and c running, d not started (tests' RUNNING)
    assert table(after.status) == {"a": ("Succeeded", None), "b": ("Failed", "Cancelled"),
                                   "c": ("Failed", "Cancelled"), "d": ("Skipped", "Cancelled")}


def test_a_workflow_already_stopped_with_nothing_left_is_only_mirrored() -> None:
    stopped = copy.deepcopy(RUNNING)
    stopped["spec"]["shutdown"] = "Stop"
    action = decide(observed(RUNNING_RUN, workflow=stopped, created=Created()))
    assert isinstance(action, WriteStatus) and action.status["phase"] == "Cancelled"


def test_cancelling_an_ended_run_changes_nothing() -> None:
    ended = cancelled(run({**SUBMITTED, "phase": "Succeeded"}))
    action = decide(observed(ended, workflow=SUCCEEDED))  # no read of what it created
    assert isinstance(action, WriteStatus) and action.status["phase"] == "Succeeded"


def test_a_run_cancelled_before_submission_is_never_submitted() -> None:
    r = cancelled(run())
    assert decide(observed(r, **READY)) == Fetch(Need.WORKFLOW)  # none of ours, read live?
    done = decide(observed(r, **READY, workflow_live=True))
    assert isinstance(done, WriteStatus)
    assert done.status["phase"] == "Cancelled"
    assert cond(done.status, "Submitted") == ("False", "Cancelled")
    assert table(done.status) == dict.fromkeys("abcd", ("Skipped", "Cancelled"))
    # ...and if a Workflow of ours exists after all, it is stopped, not left running
    assert decide(observed(r, **READY, workflow=RUNNING, workflow_live=True)) == \
        Fetch(Need.CREATED)


@settings(max_examples=600, deadline=None)
@given(observations())
def test_a_cancelled_run_is_never_submitted(o: Observed) -> None:
    o = replace(o, run=cancelled(o.run))
    assert not isinstance(decide(o), Create)


def test_an_unowned_workflow_does_not_keep_a_cancelled_run_waiting() -> None:
    foreign = owned(RUNNING, uid="x", name="someone-else")
    action = decide(observed(cancelled(run()), workflow=foreign, run_live=True,
                             orchestration=ORCH))
    assert isinstance(action, WriteStatus) and action.status["phase"] == "Cancelled"


# -- nothing changes an ended run (contract §3) -----------------------------------------
#  a -> b, c -> d: a done, b and c running when the run is cancelled; Argo then
#  fails both while stopping the Workflow and omits d.
STOPPED = owned(with_status(compiled(DIAMOND), "Failed", [
    node("a", "Succeeded"), node("b", "Failed", message="Stopped with strategy 'Stop'"),
    node("c", "Failed", message="Stopped with strategy 'Stop'"),
    node("d", "Omitted", message="omitted: depends condition not met")], shutdown="Stop"))
DEADLINE = owned(with_status(compiled(DIAMOND), "Failed", [
    node("a", "Succeeded"), node("b", "Failed", message="Step exceeded its deadline"),
    node("c", "Succeeded")], message="Step exceeded its deadline",
    activeDeadlineSeconds=60))


def settled(r: Obj, workflow: Obj) -> Obj:
    """`r` with the status the controller writes, mirrored until it has nothing to
    write (as the executor writes each)."""
    for _ in range(3):
        action = decide(observed(r, workflow=workflow, created=Created(), cancel_applied=True))
        if isinstance(action, Done):
            return r
        assert isinstance(action, WriteStatus)
        r = {**r, "status": SEALER.seal(r, action.status)}
    raise AssertionError(f"still writing after 3 rounds: {action}")


def uncancelled(r: Obj) -> Obj:
    return {**r, "spec": {**r["spec"], "cancel": False}}


@pytest.mark.parametrize(("before", "workflow", "since", "phase"), [
    pytest.param(RUNNING_RUN, RUNNING, RUNNING, "Cancelled",
                 id="cancelled-uncancelled-workflow-running"),
    pytest.param(RUNNING_RUN, STOPPED, STOPPED, "Cancelled",
                 id="cancelled-uncancelled-workflow-stopped"),
    # Argo was still stopping the Workflow when the run ended; it has since failed
    # the stopped nodes (its own finishedAt and message) and ended the Workflow.
    # Before, the run was mirrored afresh: its steps' finishedAt and its conditions
    # changed.
    pytest.param(RUNNING_RUN, RUNNING, STOPPED, "Cancelled",
                 id="cancelled-uncancelled-workflow-stopped-since"),
    pytest.param(run(SUBMITTED), DEADLINE, DEADLINE, "Failed", id="ended-early-then-cancel-true"),
    pytest.param(run(SUBMITTED), SUCCEEDED, SUCCEEDED, "Succeeded",
                 id="succeeded-then-cancel-true"),
])
def test_an_ended_run_is_left_as_it_was(before: Obj, workflow: Obj, since: Obj,
                                        phase: str) -> None:
    """A GitOps re-apply of `spec.cancel: false` (or a late `true`: a new
    generation) after the run ended, its Workflow as it is `since`: its phase,
    conditions and steps stay as they were (issue 21); only the generation it
    describes moves, so it counts as settled again."""
    ended = settled(before, workflow)
    assert ended["status"]["phase"] == phase
    flipped = uncancelled(ended) if ended["spec"].get("cancel") else cancelled(ended)
    flipped["metadata"] = {**flipped["metadata"], "generation": 2}
    action = decide(observed(flipped, workflow=since, created=Created()))
    assert isinstance(action, WriteStatus)
    assert action.status == {**{k: v for k, v in ended["status"].items() if k != "seal"},
                             "observedGeneration": 2}
    again = {**flipped, "status": SEALER.seal(flipped, action.status)}
    assert decide(observed(again, workflow=since, created=Created())) == Done("ended")

