"""Which events wake a run that waits (controller.main with controller.waitindex),
without a cluster: a Workflow's waiting nodes are indexed from its events; an
ApprovalPolicy or SignalDelivery event wakes exactly the runs waiting on it, and
nothing else (no run is polled)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.argo_messages import WAIT_TIMED_OUT
from controller.config import load_config
from controller.decide import DUE_MARGIN, Observed, ReleaseWaits, WriteStatus, decide
from controller.events import Recorder
from controller.main import DELIVERY, POLICY, Controller, stores
from controller.mapping import ORCHESTRATION, RUN, WORKFLOW, Key
from controller.reconcile import Caches, Reconciler
from controller.release import wait_facts
from controller.suspend import hydrated
from controller.watch import Informer
from orchapi.api import APPROVAL_POLICIES, RUNS, SIGNAL_DELIVERIES, WORKFLOWS, Obj
from tests.unit.controller.helpers import compiled, with_status
from tests.unit.controller.test_decide import RUN_UID, SUBMITTED, owned, run, trust_of
from tests.unit.controller.test_decide_waits import STEPS, waiting
from tests.unit.controller.test_wiring import NS, event, queued


def controller() -> Controller:
    c = Controller(load_config(["--namespaces", NS], {}))
    caches = Caches(orchestration=c._lookup(ORCHESTRATION), run=c._lookup(RUN),
                    workflow=c._lookup(WORKFLOW))
    reconciler = Reconciler(None, caches, Recorder(None),  # type: ignore[arg-type]
                            waits=c.waits.set_workflow)
    RECONCILERS[id(c)] = reconciler
    for kind, res in ((RUN, RUNS), (WORKFLOW, WORKFLOWS)):
        c.informers[kind] = {NS: Informer(None, res, NS, c._handler(kind, reconciler),  # type: ignore[arg-type]
                                          store=stores()[kind])}
    for kind, res in ((POLICY, APPROVAL_POLICIES), (DELIVERY, SIGNAL_DELIVERIES)):
        c.informers[kind] = {NS: Informer(None, res, NS, c._wait_handler(kind),  # type: ignore[arg-type]
                                          store=stores()[kind])}
    return c


RECONCILERS: dict[int, Reconciler] = {}


def woken(c: Controller) -> list[Key]:
    """The keys the events queued; each run's reconcile then reads what its
    Workflow waits on into the index, as the worker does (never the watch)."""
    keys = queued(c)
    for key in keys:
        wf = c._lookup(WORKFLOW)(NS, key.name)
        RECONCILERS[id(c)]._index_waits(key, hydrated(wf, RUN_UID), RUN_UID)
    return keys


def obj(kind: str, name: str, rv: str, **body: Any) -> Obj:
    return {"apiVersion": "x/v1", "kind": kind,
            "metadata": {"name": name, "namespace": NS, "resourceVersion": rv}, **body}


def test_policy_and_delivery_events_wake_only_the_runs_that_wait_on_them() -> None:
    c = controller()
    wf = waiting()  # run-1: a gate on policy "deploy", a wait on signal "ready"
    wf["metadata"]["namespace"], wf["metadata"]["resourceVersion"] = NS, "1"
    event(c, WORKFLOW, "ADDED", wf)
    assert woken(c) == [Key(RUN, NS, "run-1")]
    event(c, POLICY, "ADDED", obj("ApprovalPolicy", "other", "2"))
    event(c, DELIVERY, "ADDED", obj("SignalDelivery", "d0", "3",
                                     spec={"signalRef": {"name": "elsewhere"}}))
    assert woken(c) == []  # nobody waits on those
    event(c, POLICY, "MODIFIED", obj("ApprovalPolicy", "deploy", "4",
                                     status={"phase": "Approved"}))
    assert woken(c) == [Key(RUN, NS, "run-1")]
    event(c, DELIVERY, "ADDED", obj("SignalDelivery", "d1", "5",
                                     spec={"signalRef": {"name": "ready"}, "payload": {}}))
    assert woken(c) == [Key(RUN, NS, "run-1")]
    assert [d["metadata"]["name"] for d in c.waits.deliveries_for(
        NS, next(iter(_specs(wf))))] == ["d1"]


def test_a_workflow_that_waits_no_more_is_forgotten() -> None:
    c = controller()
    wf = waiting()
    wf["metadata"]["namespace"], wf["metadata"]["resourceVersion"] = NS, "1"
    event(c, WORKFLOW, "ADDED", wf)
    woken(c)
    done = owned(waiting(gate="Succeeded", signal="Succeeded"))
    done["metadata"]["namespace"], done["metadata"]["resourceVersion"] = NS, "2"
    event(c, WORKFLOW, "MODIFIED", done)
    woken(c)
    event(c, POLICY, "MODIFIED", obj("ApprovalPolicy", "deploy", "3"))
    assert woken(c) == [] and c.waits.waiting_count() == 0


def _specs(wf: Obj) -> list[Any]:
    from controller.waits import workflow_waits

    return [w.spec for w in workflow_waits(wf) if w.spec.signal]


class NotServed:
    """The apiserver's answer for a resource whose CRD is not installed: the list
    is a 404 (what `controller.kube` turns into NotFoundError)."""

    def __init__(self) -> None:
        self.lists = 0

    def list_pages(self, *_: Any) -> Any:
        from controller.kube import NotFoundError

        self.lists += 1
        raise NotFoundError(404, "NotFound", "the server could not find the requested resource")


def test_a_resource_not_served_is_an_empty_synced_cache_asked_again_later() -> None:
    import threading

    from controller import watch

    kube = NotServed()
    events: list[str] = []
    informer = Informer(kube, APPROVAL_POLICIES, NS, lambda t, _o: events.append(t),  # type: ignore[arg-type]
                        optional=True)
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    assert informer.synced.wait(5)
    assert informer.is_healthy(1.0) and kube.lists == 1 and events == []
    informer.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert watch.ABSENT_RECHECK >= 10  # asked again, not hammered
    required = Informer(NotServed(), RUNS, NS, lambda t, _o: None)  # type: ignore[arg-type]
    threading.Thread(target=required.run, daemon=True).start()
    assert not required.synced.wait(0.5)  # a resource we need is retried, never "synced"
    required.stop()


# -- decided from what the caches already hold (issue 11): a delivery or a decision
# that came before the wait started, or while the controller was down ---------------
def decided(c: Controller, now: str = "2026-01-01T00:00:10Z") -> Any:
    """What the run's reconcile decides from the controller's caches: the Workflow
    as cached (its view), the policies and deliveries the watches brought."""
    wf = c._lookup(WORKFLOW)(NS, "run-1")
    assert wf is not None
    facts = wait_facts(wf, c._lookup(POLICY), c.waits.deliveries_for)
    return decide(Observed(run=run(SUBMITTED), now=now, workflow=wf, waits=facts,
                           trust=trust_of(run(SUBMITTED))))


def in_ns(wf: Obj, rv: str) -> Obj:
    wf["metadata"]["namespace"], wf["metadata"]["resourceVersion"] = NS, rv
    return wf


def released(action: Any) -> dict[str, tuple[str, str]]:
    assert isinstance(action, ReleaseWaits), action
    return {r.step: (r.phase, r.message) for r in action.releases}


def test_a_delivery_that_came_first_releases_the_wait_as_soon_as_it_starts() -> None:
    """The delivery arrives while an earlier step runs (nobody waits on it yet, so
    it wakes nothing); the Workflow event that shows the wait started wakes the run,
    which finds the delivery in the cache: no second delivery event is needed."""
    c = controller()
    before = in_ns(owned(with_status(compiled(STEPS), "Running", [])), "1")
    event(c, WORKFLOW, "ADDED", before)
    assert woken(c) == [Key(RUN, NS, "run-1")]
    event(c, DELIVERY, "ADDED", obj("SignalDelivery", "early", "2",
                                     spec={"signalRef": {"name": "ready"}, "deliveryId": "d-1"}))
    event(c, POLICY, "ADDED", obj("ApprovalPolicy", "deploy", "3",
                                   status={"phase": "Approved"}))
    assert woken(c) == []  # nothing waits yet
    event(c, WORKFLOW, "MODIFIED", in_ns(waiting(), "4"))
    assert woken(c) == [Key(RUN, NS, "run-1")]
    assert released(decided(c)) == {
        "gate": ("Succeeded", "approval policy deploy is approved"),
        "signal": ("Succeeded", "signal ready delivered (SignalDelivery early)")}


def test_after_a_restart_decisions_made_meanwhile_are_found_in_the_caches() -> None:
    """A fresh controller lists policies and deliveries before Workflows (`run`): a
    policy denied and a timeout passed while it was down are decided by the
    Workflow's relist event alone; a decision found wins over the passed deadline."""
    c = controller()
    event(c, POLICY, "ADDED", obj("ApprovalPolicy", "deploy", "1",
                                   status={"phase": "dEnIeD"}))
    event(c, WORKFLOW, "ADDED", in_ns(waiting(), "2"))
    assert woken(c) == [Key(RUN, NS, "run-1")]
    late = "2026-01-01T01:00:00Z"  # the gate's 60 s passed long ago; the signal has none
    assert released(decided(c, late)) == {
        "gate": ("Failed", "approval policy deploy is denied")}
    c = controller()
    event(c, POLICY, "ADDED", obj("ApprovalPolicy", "deploy", "1", status={"phase": "Pending"}))
    event(c, WORKFLOW, "ADDED", in_ns(waiting(), "2"))
    assert released(decided(c, late)) == {"gate": ("Failed", WAIT_TIMED_OUT)}
    due = decided(c, "2026-01-01T00:00:59Z")  # not yet: mirrored, looked at again at 60 s
    assert isinstance(due, WriteStatus) and due.requeue is not None
    assert due.requeue.after == pytest.approx(1 + DUE_MARGIN)


# -- a Workflow's node status is decoded by a worker, for the run that owns it -------
def compressed_waiting(owner_uid: str | None) -> Obj:
    """The waiting Workflow with its nodes gzip-compressed, owned by `owner_uid`
    (None: no owner, only the run label, as anyone who edits Workflows can make)."""
    import base64
    import gzip
    import json

    wf = in_ns(waiting(), "7")
    text = json.dumps(wf["status"].pop("nodes")).encode()
    wf["status"]["compressedNodes"] = base64.b64encode(gzip.compress(text)).decode()
    if owner_uid is None:
        del wf["metadata"]["ownerReferences"]
    else:
        wf["metadata"]["ownerReferences"][0]["uid"] = owner_uid
    return wf


def test_the_wait_index_reads_compressed_nodes_of_the_runs_own_workflow() -> None:
    c = controller()
    event(c, WORKFLOW, "ADDED", compressed_waiting(RUN_UID))
    assert woken(c) == [Key(RUN, NS, "run-1")]
    event(c, POLICY, "MODIFIED", obj("ApprovalPolicy", "deploy", "8"))
    assert woken(c) == [Key(RUN, NS, "run-1")]


@pytest.mark.parametrize("owner", [None, "someone-else"], ids=["label-only", "other-owner"])
def test_a_bomb_in_a_workflow_the_run_does_not_own_is_never_decoded(
        owner: str | None) -> None:
    """Issue 22: the watch handler decoded `compressedNodes` of any Workflow with
    the run label, before any ownership check: 816 KB of gzip, 600 MB of JSON. Now
    the watch decodes nothing, and the worker only the run's own Workflow. (The bomb
    here is 64 MB of whitespace, not JSON: enough to see, small enough to survive
    the code before this change.)"""
    import base64
    import gzip
    import tracemalloc

    c = controller()
    wf = compressed_waiting(owner)
    bomb = gzip.compress(b" " * (64 * 1024 * 1024) + b"x", 9)
    wf["status"]["compressedNodes"] = base64.b64encode(bomb).decode()
    tracemalloc.start()
    try:
        event(c, WORKFLOW, "ADDED", wf)
        keys = woken(c)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert keys == [Key(RUN, NS, "run-1")]  # the run is told (WorkflowNotOwned)
    assert peak < 16 * 1024 * 1024, peak  # nothing was decompressed
    assert c.waits.waiting_count() == 0
