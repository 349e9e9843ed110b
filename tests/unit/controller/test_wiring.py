"""The wiring's own decisions, without a cluster: which watch events wake a
reconcile (not our own writes' echoes, nothing of a settled run, `written`
forgotten with its object), `/healthz` from the watches' health, and the order of
shutdown (the Lease is renewed until in-flight reconciles end, released only if
they did)."""

from __future__ import annotations

import threading

import pytest

from controller import main as main_module
from controller.config import load_config
from controller.events import Recorder
from controller.main import Controller, stores
from controller.mapping import ORCHESTRATION, RUN, WORKFLOW, Key
from controller.reconcile import Caches, Reconciler
from controller.watch import Informer
from orchapi.api import ORCHESTRATIONS, RUNS, WORKFLOWS, Obj

NS = "ns"


def controller_with_caches() -> tuple[Controller, Reconciler]:
    c = Controller(load_config(["--namespaces", NS], {}))
    caches = Caches(orchestration=c._lookup(ORCHESTRATION), run=c._lookup(RUN),
                    workflow=c._lookup(WORKFLOW))
    reconciler = Reconciler(None, caches, Recorder(None))  # type: ignore[arg-type]
    for kind, res in ((ORCHESTRATION, ORCHESTRATIONS), (RUN, RUNS), (WORKFLOW, WORKFLOWS)):
        c.informers[kind] = {NS: Informer(None, res, NS, c._handler(kind, reconciler),  # type: ignore[arg-type]
                                          store=stores()[kind])}
    return c, reconciler


def event(c: Controller, kind: str, type_: str, obj: Obj) -> None:
    c.informers[kind][NS]._apply({"type": type_, "object": obj})


def queued(c: Controller) -> list[Key]:
    out = []
    while (key := c.queue.get(0)) is not None:
        out.append(key)
        c.queue.done(key)
    return out


def run(name: str, rv: str, phase: str | None = None, observed: int | None = 1) -> Obj:
    status: Obj = {} if phase is None else {"phase": phase, "observedGeneration": observed}
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
            "metadata": {"name": name, "namespace": NS, "uid": f"u-{name}", "generation": 1,
                         "resourceVersion": rv}, "status": status}


def workflow(name: str, rv: str) -> Obj:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "namespace": NS, "uid": f"w-{name}", "resourceVersion": rv,
                         "ownerReferences": [{
                             "apiVersion": "orchestration.proompteng.ai/v1alpha1",
                             "kind": "OrchestrationRun", "name": name, "uid": f"u-{name}",
                             "controller": True}]},
            "spec": {}, "status": {"phase": "Running"}}


def test_which_events_wake_a_reconcile() -> None:
    c, reconciler = controller_with_caches()
    key = Key(RUN, NS, "r")
    event(c, RUN, "ADDED", run("r", "1"))
    assert queued(c) == [key]
    reconciler.written[key] = "2"
    event(c, RUN, "MODIFIED", run("r", "2", "Running"))  # our own write's echo
    reconciler.written[Key(WORKFLOW, NS, "r")] = "3"
    event(c, WORKFLOW, "ADDED", workflow("r", "3"))  # the echo of our create
    assert queued(c) == []
    event(c, WORKFLOW, "MODIFIED", workflow("r", "4"))  # Argo moved on
    assert queued(c) == [key]
    event(c, RUN, "MODIFIED", run("r", "5", "Succeeded"))  # settled (by anyone)
    event(c, WORKFLOW, "MODIFIED", workflow("r", "6"))  # of a settled run
    assert queued(c) == []
    event(c, RUN, "MODIFIED", run("r", "7", "Succeeded", observed=0))  # generation moved
    assert queued(c) == [key]
    event(c, RUN, "DELETED", run("r", "8", "Succeeded"))  # orphan collection
    assert queued(c) == [key]
    assert key not in reconciler.written
    event(c, WORKFLOW, "DELETED", workflow("r", "9"))  # its run is gone: nobody to tell
    assert queued(c) == []
    assert c.informers[WORKFLOW][NS].store.stats()["deleted"] == 0  # no tombstone kept
    assert Key(WORKFLOW, NS, "r") not in reconciler.written
    event(c, RUN, "ADDED", run("s", "10"))
    event(c, WORKFLOW, "ADDED", workflow("s", "11"))
    queued(c)
    event(c, WORKFLOW, "DELETED", workflow("s", "12"))  # of a running run: it must know
    assert queued(c) == [Key(RUN, NS, "s")]
    assert c.informers[WORKFLOW][NS].store.deleted(NS, "s") is not None  # its last state


def test_a_restart_beside_settled_runs_reconciles_nothing() -> None:
    c, _ = controller_with_caches()
    for i in range(50):
        event(c, RUN, "ADDED", run(f"done-{i}", str(i), "Failed"))
        event(c, WORKFLOW, "ADDED", workflow(f"done-{i}", str(100 + i)))
    assert queued(c) == []
    assert c.informers[RUN][NS].store.stats() == {"hot": 0, "cold": 50, "deleted": 0}


def test_healthz_follows_the_watches() -> None:
    clock = [0.0]
    c = Controller(load_config(["--health-window", "120"], {}))
    c.informers[RUN] = {None: Informer(None, RUNS, None, lambda *_: None,  # type: ignore[arg-type]
                                       clock=lambda: clock[0])}
    assert c._healthy()
    clock[0] += 119
    assert c._healthy()
    clock[0] += 2  # nothing heard for 121 s
    assert not c._healthy()
    c.informers[RUN][None]._touch()
    assert c._healthy()


class Elector:
    def __init__(self) -> None:
        self.released = threading.Event()

    def release(self, timeout: float) -> None:
        self.released.set()


class InFlight(threading.Thread):
    """An in-flight reconcile that records, while the shutdown waits for it, whether
    the Lease was still renewed and not yet released: no sleep, no timing."""

    def __init__(self, c: Controller, elector: Elector) -> None:
        super().__init__(target=self._reconcile, daemon=True)
        self.c, self.elector = c, elector
        self.waited_for = threading.Event()  # the shutdown is joining this thread
        self.go = threading.Event()
        self.seen: list[tuple[bool, bool]] = []  # (elector stopped, Lease released)

    def _reconcile(self) -> None:
        self.go.wait()
        self.seen.append((self.c._elector_stop.is_set(), self.elector.released.is_set()))

    def join(self, timeout: float | None = None) -> None:
        if threading.current_thread() is not threading.main_thread():  # the shutdown's
            self.seen.append((self.c._elector_stop.is_set(), self.elector.released.is_set()))
            self.waited_for.set()
        super().join(timeout)


@pytest.mark.parametrize("finishes", [True, False], ids=["finishes", "outlives-the-grace"])
def test_shutdown_renews_until_reconciles_end_then_releases_only_if_they_did(
        monkeypatch: pytest.MonkeyPatch, finishes: bool) -> None:
    # The grace is a deadline the shutdown computes; 0 makes "outlives" immediate.
    monkeypatch.setattr(main_module, "SHUTDOWN_GRACE", 3600.0 if finishes else 0.0)
    c = Controller(load_config([], {}))
    elector = Elector()
    worker = InFlight(c, elector)
    worker.start()
    c.workers = [worker]
    renewing = threading.Thread(target=c._elector_stop.wait, daemon=True)  # the elector
    renewing.start()
    c._elector_thread = renewing
    shutdown = threading.Thread(target=c._shutdown, args=(elector,))
    shutdown.start()
    assert worker.waited_for.wait(30)  # a hang guard; nothing here is timed
    if finishes:
        worker.go.set()
        shutdown.join(30)
        assert elector.released.is_set()
        # still renewed and held while the shutdown waited, and when the reconcile ended
        assert worker.seen == [(False, False), (False, False)]
    else:
        shutdown.join(30)
        assert not elector.released.is_set()  # left to expire: a reconcile may still write
        worker.go.set()
        worker.join(30)
        assert worker.seen == [(False, False), (True, False)]
    assert not shutdown.is_alive()
    assert c._elector_stop.is_set()
