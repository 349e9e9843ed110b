"""`maxActiveRunsPerNamespace` (contract §6, issue 22): at most N runs of one
namespace are active at once; the others wait, oldest first, saying why, and are
woken when a slot frees; other namespaces are not counted; workers admitting at
once never pass the cap; a restart learns the holders from the watch."""

from __future__ import annotations

import copy
import threading

import pytest

from controller.capacity import ActiveRuns
from controller.events import Recorder
from controller.mapping import RUN, Key
from controller.reconcile import CAPACITY_RECHECK, Caches, Reconciler
from orchapi.api import ORCHESTRATIONS, RUNS, WORKFLOWS, Obj
from tests.unit.controller.test_reconcile_live_orchestration import (
    API,
    NS,
    Apiserver,
    orchestration,
)


def run(name: str, created: str = "2026-01-01T00:00:00Z", phase: str | None = None,
        submitted: bool = False, ns: str = NS) -> Obj:
    status: Obj = {}
    if phase:
        status["phase"] = phase
    if submitted:
        status["workflowRef"] = {"name": name, "namespace": ns, "uid": f"w-{name}"}
    return {"apiVersion": API, "kind": "OrchestrationRun",
            "metadata": {"name": name, "namespace": ns, "uid": f"u-{name}", "generation": 1,
                         "resourceVersion": "1", "creationTimestamp": created},
            "spec": {"orchestrationRef": {"name": "o"}}, "status": status}


def key(name: str, ns: str = NS) -> Key:
    return Key(RUN, ns, name)


def test_runs_past_the_limit_wait_and_the_oldest_is_woken_when_one_ends() -> None:
    woken: list[Key] = []
    slots = ActiveRuns(2, woken.append)
    assert slots.admit(key("a"), run("a", "2026-01-01T00:00:01Z"))
    assert slots.admit(key("b"), run("b", "2026-01-01T00:00:02Z"))
    assert not slots.admit(key("d"), run("d", "2026-01-01T00:00:04Z"))
    assert not slots.admit(key("c"), run("c", "2026-01-01T00:00:03Z"))
    assert slots.admit(key("a"), run("a"))  # a holder keeps its slot
    assert slots.counts(NS) == (2, 2)
    slots.observe(key("a"), run("a", phase="Running", submitted=True))  # still active
    assert woken == []
    slots.observe(key("a"), run("a", phase="Succeeded", submitted=True))
    assert woken == [key("c")]  # the oldest waiting
    assert not slots.admit(key("d"), run("d", "2026-01-01T00:00:04Z"))  # c is ahead
    assert slots.admit(key("c"), run("c", "2026-01-01T00:00:03Z"))
    slots.observe(key("b"), None)  # deleted
    assert woken == [key("c"), key("d")]
    assert slots.admit(key("d"), run("d", "2026-01-01T00:00:04Z"))
    assert slots.counts(NS) == (2, 0)


def test_other_namespaces_are_not_counted() -> None:
    slots = ActiveRuns(1, lambda _k: None)
    assert slots.admit(key("a"), run("a"))
    assert not slots.admit(key("b"), run("b"))
    assert slots.admit(key("a", "victim"), run("a", ns="victim"))


def test_a_waiting_run_that_is_cancelled_or_deleted_leaves_the_line() -> None:
    woken: list[Key] = []
    slots = ActiveRuns(1, woken.append)
    assert slots.admit(key("a"), run("a"))
    assert not slots.admit(key("b"), run("b", "2026-01-01T00:00:01Z"))
    assert not slots.admit(key("c"), run("c", "2026-01-01T00:00:02Z"))
    slots.observe(key("b"), run("b", phase="Cancelled"))
    slots.observe(key("a"), run("a", phase="Failed", submitted=True))
    assert woken == [key("c")]


def test_a_restart_learns_the_holders_from_the_watch() -> None:
    slots = ActiveRuns(2, lambda _k: None)
    slots.observe(key("a"), run("a", phase="Running", submitted=True))
    slots.observe(key("b"), run("b", phase="Pending", submitted=True))
    slots.observe(key("c"), run("c", phase="Succeeded", submitted=True))
    slots.observe(key("d"), run("d"))  # not submitted yet: no slot
    assert slots.counts(NS) == (2, 0)
    assert not slots.admit(key("d"), run("d"))


def test_workers_admitting_at_once_never_pass_the_limit() -> None:
    slots = ActiveRuns(5, lambda _k: None)
    admitted: list[str] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        for j in range(25):
            name = f"r{i}-{j}"
            if slots.admit(key(name), run(name, f"2026-01-01T00:00:{j:02d}Z")):
                with lock:
                    admitted.append(name)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 5


def test_unlimited_admits_everything_and_tracks_nothing() -> None:
    slots = ActiveRuns(None, lambda _k: None)
    assert all(slots.admit(key(f"r{i}"), run(f"r{i}")) for i in range(100))
    assert slots.counts(NS) == (0, 0)


@pytest.mark.parametrize("limit", [1, 2])
def test_the_reconcile_submits_up_to_the_limit_and_says_why_the_rest_wait(limit: int) -> None:
    runs = {f"r{i}": run(f"r{i}", f"2026-01-01T00:00:0{i}Z") for i in range(3)}
    api = Apiserver((ORCHESTRATIONS, orchestration(1, "build")),
                    *((RUNS, r) for r in runs.values()))
    caches = Caches(orchestration=lambda ns, name: None,
                    run=lambda ns, name: copy.deepcopy(api.objects.get(("orchestrationruns",
                                                                        name))),
                    workflow=lambda ns, name: None)
    slots = ActiveRuns(limit, lambda _k: None)
    reconciler = Reconciler(api, caches, Recorder(api), capacity=slots)  # type: ignore[arg-type]
    results = [reconciler.reconcile(key(name)) for name in runs]
    created = sorted(n for (plural, n) in api.objects if plural == WORKFLOWS.plural)
    assert created == [f"r{i}" for i in range(limit)]
    waiting = api.objects[("orchestrationruns", "r2")]["status"]
    (submitted,) = [c for c in waiting["conditions"] if c["type"] == "Submitted"]
    assert (waiting["phase"], submitted["status"], submitted["reason"]) == (
        "Pending", "False", "ActiveRunLimit")
    assert "maxActiveRunsPerNamespace" in submitted["message"]
    assert "stepStatuses" not in waiting  # a waiting run stays small
    assert results[2].requeue_after == CAPACITY_RECHECK


def test_a_run_that_must_wait_for_a_slot_reads_nothing_for_it() -> None:
    """A run past the limit is told so from what the controller holds, before the
    live reads of a run on its way to submission (issue 22: a tenant's thousand
    waiting runs cost a status write each, not two reads of a busy apiserver); a
    second look at it, still waiting, costs nothing."""
    runs = {f"r{i}": run(f"r{i}", f"2026-01-01T00:00:0{i}Z") for i in range(2)}
    missing = run("r9", "2026-01-01T00:00:09Z")
    missing["spec"]["orchestrationRef"]["name"] = "gone"
    api = Apiserver((ORCHESTRATIONS, orchestration(1, "build")),
                    *((RUNS, r) for r in [*runs.values(), missing]))
    caches = Caches(orchestration=lambda ns, name: copy.deepcopy(api.objects.get(
                        ("orchestrations", name))),
                    run=lambda ns, name: copy.deepcopy(api.objects.get(("orchestrationruns",
                                                                        name))),
                    workflow=lambda ns, name: None)
    reconciler = Reconciler(api, caches, Recorder(api),  # type: ignore[arg-type]
                            capacity=ActiveRuns(1, lambda _k: None))
    reconciler.reconcile(key("r0"))
    before, version = len(api.gets), api.rv
    assert reconciler.reconcile(key("r1")).requeue_after == CAPACITY_RECHECK
    assert api.gets[before:] == [] and api.rv == version + 1  # one write, no read
    status = api.objects[("orchestrationruns", "r1")]["status"]
    assert [c["reason"] for c in status["conditions"] if c["type"] == "Submitted"] == [
        "ActiveRunLimit"]
    assert reconciler.reconcile(key("r1")).requeue_after == CAPACITY_RECHECK
    assert api.gets[before:] == [] and api.rv == version + 1  # unchanged: nothing at all
    # One whose Orchestration the controller does not hold is read, and refused at
    # once, not kept waiting for a slot to hear it.
    reconciler.reconcile(key("r9"))
    refused = api.objects[("orchestrationruns", "r9")]["status"]
    assert (refused["phase"], [c["reason"] for c in refused["conditions"]
                               if c["type"] == "Submitted"]) == ("Failed",
                                                                 ["OrchestrationNotFound"])
