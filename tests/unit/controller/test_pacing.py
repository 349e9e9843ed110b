"""controller.pacing: which status writes may wait (a table and a property), and
the executor holding them against the in-memory apiserver with a fake clock."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.events import events_for
from controller.pacing import Pacer, only_advanced
from controller.reconcile import Result
from orchapi.api import ORCHESTRATIONS, RUNS, WORKFLOWS, Obj
from tests.unit.controller.helpers import node, with_status
from tests.unit.controller.test_executor import NS, World, a_run, container, orchestration

INTERVAL = 10.0  # longer than a step of these tests takes
T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z"
SUBMITTED = {"type": "Submitted", "status": "True", "reason": "WorkflowCreated",
             "message": "m", "lastTransitionTime": T0}


def step(name: str, phase: str, **extra: Any) -> Obj:
    return {"name": name, "kind": "Container", "phase": phase, **extra}


RUNNING_SUMMARY = {"type": "Succeeded", "status": "Unknown", "reason": "Running",
                   "message": "0 of 2 done", "lastTransitionTime": T0}


def status(phase: str, *steps: Obj, **extra: Any) -> Obj:
    return {"phase": phase, "progress": "0/2", "startedAt": T0, "workflowRef": {"name": "r"},
            "conditions": [SUBMITTED, RUNNING_SUMMARY], "stepStatuses": list(steps),
            "seal": "s1", **extra}


RUNNING = status("Running", step("a", "Running", startedAt=T0), step("b", "Pending"))


@pytest.mark.parametrize(("new", "held"), [
    # the ordinary advance of a step: may wait
    (status("Running", step("a", "Succeeded", startedAt=T0, finishedAt=T1),
            step("b", "Running", startedAt=T1), progress="1/2", seal="s2"), True),
    (status("Running", step("a", "Running", startedAt=T0, attempt=2), step("b", "Pending")),
     True),
    # nothing but the seal: may wait (and the executor writes nothing anyway)
    ({**RUNNING, "seal": "s2"}, True),
    # the run's phase, a condition, the Workflow's reference: at once
    (status("Succeeded", step("a", "Succeeded", startedAt=T0, finishedAt=T1),
            step("b", "Succeeded", startedAt=T1, finishedAt=T1), progress="2/2"), False),
    (status("Running", step("a", "Running", startedAt=T0), step("b", "Pending"),
            conditions=[SUBMITTED, RUNNING_SUMMARY,
                        {"type": "NodeStatusAvailable", "status": "False"}]), False),
    (status("Running", step("a", "Running", startedAt=T0), step("b", "Pending"),
            workflowRef={"name": "other"}), False),
    # a step that failed, was skipped, carries a reason or a new message: at once
    (status("Running", step("a", "Failed", reason="StepFailed", finishedAt=T1),
            step("b", "Pending")), False),
    (status("Running", step("a", "Succeeded", reason="FailureIgnored", finishedAt=T1),
            step("b", "Pending")), False),
    (status("Running", step("a", "Running", startedAt=T0), step("b", "Skipped")), False),
    # the messages of steps that move along, and the running summary: may wait
    (status("Running", step("a", "Running", startedAt=T0, message="running"),
            step("b", "Pending", message="waiting for a"),
            conditions=[SUBMITTED, {**RUNNING_SUMMARY, "message": "0 of 2 done, 1 running"}]),
     True),
    # but not a condition's message once it is decided
    (status("Running", step("a", "Running", startedAt=T0), step("b", "Pending"),
            conditions=[{**SUBMITTED, "message": "other"}, RUNNING_SUMMARY]), False),
    # a step left the list; one appeared
    (status("Running", step("a", "Running", startedAt=T0)), False),
    (status("Running", step("a", "Running", startedAt=T0), step("b", "Pending"),
            step("c", "Running")), True),
])
def test_which_writes_may_wait(new: Obj, held: bool) -> None:
    assert only_advanced(RUNNING, new) is held


def test_nothing_waits_before_the_run_runs() -> None:
    pending = {**RUNNING, "phase": "Pending"}
    assert not only_advanced(pending, {**pending, "progress": "1/2"})
    assert not only_advanced(pending, RUNNING)


PHASES = st.sampled_from(["Pending", "Running", "Succeeded", "Failed", "Skipped"])
REASONS = st.sampled_from([None, "StepFailed", "FailureIgnored", "DependencyFailed"])


@st.composite
def step_lists(draw: st.DrawFn) -> list[Obj]:
    out = []
    for name in ("a", "b", "c"):
        s = step(name, draw(PHASES))
        reason = draw(REASONS)
        if reason:
            s["reason"] = reason
        out.append(s)
    return out


@given(step_lists(), step_lists(), st.sampled_from(["Running", "Succeeded", "Failed"]))
def test_a_write_that_waits_never_holds_back_an_event(old_steps: list[Obj],
                                                      new_steps: list[Obj], phase: str) -> None:
    """Events come from the difference of two writes (controller.events): a held
    write must be one that would record none."""
    old, new = status("Running", *old_steps), status(phase, *new_steps)
    if only_advanced(old, new):
        assert events_for(old, new) == []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_executor_holds_an_advance_until_the_interval_passed_and_writes_the_end_at_once(
        ) -> None:
    """A 3-step chain moving along as Argo writes it: each advance waits (the
    reconcile asks to be woken when the interval has passed), then is written; the
    end is written at once, interval or not."""
    name = "run-1"  # helpers' Argo nodes are of the Workflow run-1
    w = World((ORCHESTRATIONS, orchestration(container("a"), container("b", "a"),
                                             container("c", "b"))),
              (RUNS, a_run(name)))
    clock = Clock()
    w.reconciler.pacer = Pacer(interval=INTERVAL, clock=clock)

    def writes() -> int:
        return len(w.api.verbs("replace_status"))

    def argo(phase: str, *nodes: Obj) -> None:
        wf = w.api.stored(WORKFLOWS, NS, name)
        assert wf is not None
        w.api.objects[("workflows", NS, name)] = with_status(wf, phase, list(nodes))

    assert w.reconcile(name) == Result()  # created, Submitted written at once
    assert writes() == 1 and w.run(name)["status"]["phase"] == "Running"
    argo("Running", node("a", "Running"))
    clock.now += 1
    assert w.reconcile(name) == Result(INTERVAL - 1)  # held
    assert writes() == 1
    clock.now += INTERVAL - 1
    assert w.reconcile(name) == Result()  # the interval passed: written
    assert writes() == 2
    assert [s["phase"] for s in w.run(name)["status"]["stepStatuses"]] == [
        "Running", "Pending", "Pending"]
    argo("Running", node("a", "Succeeded"), node("b", "Running"))
    clock.now += 2
    assert w.reconcile(name) == Result(INTERVAL - 2)
    argo("Succeeded", node("a", "Succeeded"), node("b", "Succeeded"), node("c", "Succeeded"))
    clock.now += 1
    assert w.reconcile(name) == Result()  # the end: at once
    assert writes() == 3
    assert w.run(name)["status"]["phase"] == "Succeeded"
    assert w.run(name)["status"]["progress"] == "3/3"
    assert [e["reason"] for e in w.api.events] == ["WorkflowCreated", "RunSucceeded"]


def test_a_failed_step_is_written_at_once() -> None:
    name = "run-1"
    w = World((ORCHESTRATIONS, orchestration(container("a"), container("b"))),
              (RUNS, a_run(name)))
    clock = Clock()
    w.reconciler.pacer = Pacer(clock=clock)
    w.reconcile(name)
    wf = w.api.stored(WORKFLOWS, NS, name)
    assert wf is not None
    w.api.objects[("workflows", NS, name)] = with_status(
        wf, "Running", [node("a", "Failed", message="Error (exit code 1)"), node("b", "Running")])
    clock.now += 1
    assert w.reconcile(name) == Result()
    assert len(w.api.verbs("replace_status")) == 2
    assert [e["reason"] for e in w.api.events] == ["WorkflowCreated", "StepFailed"]


def test_the_interval_stretches_with_the_runs_being_mirrored() -> None:
    """60 runs moving at 2 advance writes a second: each run's advance waits 30 s,
    not 10; once they ended, 10 s again. A phase change never waits."""
    clock = Clock()
    pacer = Pacer(interval=10.0, rate=2.0, clock=clock)
    advanced = status("Running", step("a", "Succeeded", startedAt=T0, finishedAt=T1),
                      step("b", "Running", startedAt=T1), progress="1/2")
    for i in range(60):
        pacer.wrote(i, RUNNING)
    clock.now += 12
    assert pacer.hold(0, RUNNING, advanced) == 18
    assert pacer.hold(0, RUNNING, {**advanced, "phase": "Succeeded"}) is None
    for i in range(1, 60):
        pacer.wrote(i, {**RUNNING, "phase": "Succeeded"})  # ended: no longer counted
    assert pacer.hold(0, RUNNING, advanced) is None  # 12 s > 10 s
    pacer.wrote(0, RUNNING)
    clock.now += 4
    assert pacer.hold(0, RUNNING, advanced) == 6
