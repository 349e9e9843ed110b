"""Wiring: configuration -> caches, queue, workers, leader election, HTTP, signals.

Why here and nowhere else: every other module is a piece with one job; this one
decides the order of startup (HTTP first so probes answer, caches next, workers
only once the caches are synced and the Lease is held) and of shutdown on SIGTERM
(stop taking work, finish what is in hand, release the Lease, stop the watches).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from http.server import ThreadingHTTPServer
from types import FrameType

from compiler.vocabulary import RunPhase
from controller.config import Config, kubeconfig_problem, load_config
from controller.election import LeaderElector
from controller.events import Recorder
from controller.kube import ORCHESTRATIONS, RUNS, WORKFLOWS, Kube, Obj, Resource, load_api_client
from controller.logs import setup_logging
from controller.mapping import ORCHESTRATION, RUN, WORKFLOW, Key, is_own_write, keys_for
from controller.metrics import Metrics
from controller.queue import WorkQueue
from controller.reconcile import Caches, Reconciler
from controller.server import Endpoints, serve
from controller.watch import Informer

log = logging.getLogger("orch.main")
CONTROLLER = "orchestration"
SHUTDOWN_GRACE = 25.0


class Controller:
    """The running controller; `run()` blocks until `stop` is set."""

    def __init__(self, config: Config, stop: threading.Event | None = None) -> None:
        self.config = config
        self.stop = stop or threading.Event()
        self.metrics = Metrics()
        self.ready = threading.Event()
        self.leading = threading.Event()  # workers take keys only while set
        self.exit_code = 0
        self.queue: WorkQueue[Key] = WorkQueue(CONTROLLER, self.metrics)
        self.informers: dict[str, dict[str | None, Informer]] = {}
        self.workers: list[threading.Thread] = []
        self.servers: list[ThreadingHTTPServer] = []

    # -- HTTP ---------------------------------------------------------------------------
    def _healthy(self) -> bool:
        return not self.stop.is_set() or self.exit_code == 0

    def _render_metrics(self) -> bytes:
        runs = self.informers.get(RUN, {})
        phases = Counter(str((o.get("status") or {}).get("phase") or RunPhase.PENDING)
                         for inf in runs.values() for o in inf.items())
        for phase in RunPhase:
            self.metrics.runs.labels(phase).set(phases.get(phase, 0))
        return self.metrics.render()

    def start_http(self) -> None:
        endpoints = Endpoints(self._healthy, self.ready.is_set, self._render_metrics)
        addresses = dict.fromkeys([self.config.probe_address, self.config.metrics_address])
        self.servers = [serve(a, endpoints) for a in addresses]
        log.info("serving", extra={"ports": [s.server_port for s in self.servers]})

    # -- the controller ---------------------------------------------------------------------
    def run(self) -> int:
        self.start_http()
        if not self.config.enabled:
            log.info("controller disabled; serving probes only",
                     extra={"env": "JANGAR_ORCHESTRATION_CONTROLLER_ENABLED"})
            self.ready.set()
            self.stop.wait()
            self._stop_http()
            return 0
        kube = Kube(load_api_client(self.config.kubeconfig, self.config.in_cluster,
                                    pool=self.config.workers + 16), self.metrics)
        reconciler = Reconciler(kube, Caches(self._lookup(ORCHESTRATION), self._lookup(RUN),
                                             self._lookup(WORKFLOW)),
                                Recorder(kube), self.config.workflow_service_account,
                                self.config.workflow_pods)
        self.metrics.max_workers.labels(CONTROLLER).set(self.config.workers)
        self._start_informers(kube, reconciler)
        self._wait_synced()
        if self.stop.is_set():
            return self._shutdown(None)
        self.ready.set()
        log.info("caches synced", extra={"namespaces": self.config.namespaces or ["*"]})
        elector: LeaderElector | None = None
        if self.config.leader_elect:
            c = self.config
            elector = LeaderElector(kube, c.lease_namespace, c.lease_name, c.identity,
                                    c.lease_duration, c.renew_deadline, c.retry_period,
                                    self.metrics)
            threading.Thread(target=elector.run, name="leader-election", daemon=True, args=(
                self.stop, self.leading.set, self.leading.clear)).start()
        else:
            self.leading.set()
        self._start_workers(reconciler)
        self.stop.wait()
        return self._shutdown(elector)

    def _lookup(self, kind: str) -> Callable[[str, str], Obj | None]:
        def get(namespace: str, name: str) -> Obj | None:
            by_ns = self.informers.get(kind, {})
            informer = by_ns.get(namespace) or by_ns.get(None)
            return informer.get(namespace, name) if informer else None
        return get

    def _start_informers(self, kube: Kube, reconciler: Reconciler) -> None:
        namespaces: Sequence[str | None] = self.config.namespaces or (None,)
        resources: tuple[tuple[str, Resource], ...] = (
            (ORCHESTRATION, ORCHESTRATIONS), (RUN, RUNS), (WORKFLOW, WORKFLOWS))
        for kind, res in resources:
            for ns in namespaces:
                informer = Informer(kube, res, ns, self._handler(kind, reconciler), self.metrics)
                self.informers.setdefault(kind, {})[ns] = informer
                threading.Thread(target=informer.run, name=f"watch-{res.plural}-{ns or 'all'}",
                                 daemon=True).start()

    def _handler(self, kind: str, reconciler: Reconciler) -> Callable[[str, Obj], None]:
        def on_event(event_type: str, obj: Obj) -> None:
            for key in keys_for(kind, obj):
                if kind != WORKFLOW and event_type != "DELETED" and is_own_write(
                        key, obj, reconciler.written):
                    continue  # the echo of our own status write
                self.queue.add(key)
        return on_event

    def _wait_synced(self) -> None:
        for by_ns in self.informers.values():
            for informer in by_ns.values():
                while not informer.synced.wait(0.5):
                    if self.stop.is_set():
                        return

    def _start_workers(self, reconciler: Reconciler) -> None:
        for i in range(self.config.workers):
            t = threading.Thread(target=self._work, args=(reconciler,), name=f"worker-{i}",
                                 daemon=True)
            t.start()
            self.workers.append(t)
        log.info("workers started (they reconcile while this replica leads)",
                 extra={"workers": self.config.workers})

    def _work(self, reconciler: Reconciler) -> None:
        m = self.metrics
        while not self.queue.is_shutting_down:
            if not self.leading.wait(0.5):
                continue
            key = self.queue.get(timeout=0.5)
            if key is None:
                continue
            if not self.leading.is_set():  # lost the Lease meanwhile: leave it queued
                self.queue.done(key)
                self.queue.add(key)
                continue
            start = time.monotonic()
            m.active_workers.labels(CONTROLLER).inc()
            try:
                result = reconciler.reconcile(key)
            except Exception as e:
                m.reconcile_errors.labels(CONTROLLER).inc()
                m.reconcile_total.labels(CONTROLLER, "error").inc()
                delay = self.queue.add_rate_limited(key)
                log.warning("reconcile failed; retrying", extra={
                    "key": str(key), "error": repr(e), "retry_in": round(delay, 3)})
            else:
                self.queue.forget(key)
                if result.requeue_after is not None:
                    m.reconcile_total.labels(CONTROLLER, "requeue_after").inc()
                    self.queue.add_after(key, result.requeue_after)
                else:
                    m.reconcile_total.labels(CONTROLLER, "success").inc()
            finally:
                elapsed = time.monotonic() - start
                m.reconcile_time.labels(CONTROLLER).observe(elapsed)
                m.work_duration.labels(CONTROLLER).observe(elapsed)
                m.active_workers.labels(CONTROLLER).dec()
                self.queue.done(key)

    def _shutdown(self, elector: LeaderElector | None) -> int:
        log.info("shutting down")
        self.ready.clear()
        self.queue.shutdown()
        deadline = time.monotonic() + SHUTDOWN_GRACE
        for t in self.workers:
            t.join(max(0.0, deadline - time.monotonic()))
        if elector is not None:
            elector.release()
        for by_ns in self.informers.values():
            for informer in by_ns.values():
                informer.stop()
        self._stop_http()
        log.info("stopped", extra={"exit_code": self.exit_code})
        return self.exit_code

    def _stop_http(self) -> None:
        for s in self.servers:
            s.shutdown()
            s.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    config = load_config(argv)
    problem = None if config.in_cluster or not config.enabled else kubeconfig_problem(
        config.kubeconfig or "~/.kube/config")  # the client's default
    if problem:
        sys.stderr.write(f"orch controller: error: {problem}\n")
        return 2
    setup_logging(config.log_level)
    controller = Controller(config)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal received", extra={"signal": signal.Signals(signum).name})
        controller.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return controller.run()
