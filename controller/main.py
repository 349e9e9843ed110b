"""Wiring: configuration -> caches, queue, workers, leader election, HTTP, signals.

Why here and nowhere else: every other module is a piece with one job; this one
decides the order of startup (HTTP first so probes answer, caches next, workers
only once the caches are synced and the Lease is held) and of shutdown on SIGTERM
(stop taking work, finish what is in hand while still renewing the Lease, then
release it, stop the watches). It also decides which events wake a reconcile:
not the echo of our own writes, and nothing of a settled run, so a finished run
costs no reconcile, restarts included.
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

from compiler import jsoncost
from controller.admission import InstallLimits
from controller.argo_config import ArgoDefaults
from controller.capacity import ActiveRuns
from controller.config import Config, kubeconfig_problem, load_config
from controller.election import LeaderElector
from controller.events import Recorder
from controller.kube import ApiClient, ApiError, ClusterConfigError, Kube, load_api_client
from controller.logs import setup_logging
from controller.mapping import (
    ORCHESTRATION,
    RUN,
    WORKFLOW,
    Key,
    has_ended,
    is_own_write,
    is_settled,
    keys_for,
    own_key,
)
from controller.metrics import Metrics
from controller.mirror import workflow_view
from controller.orchestrations import is_judged, orchestration_view
from controller.pacing import Pacer
from controller.queue import WorkQueue
from controller.reconcile import Caches, Reconciler
from controller.seal import Sealer
from controller.sealkey import SealKeyError, load_sealer, seal_secret_name
from controller.server import Endpoints, serve
from controller.store import Store
from controller.waitindex import (
    WaitIndex,
    delivery_targets,
    delivery_view,
    policy_targets,
    policy_view,
)
from controller.watch import Informer
from orchapi.api import (
    APPROVAL_POLICIES,
    APPROVAL_POLICY_KIND,
    ORCHESTRATIONS,
    RUN_LABEL,
    RUNS,
    SIGNAL_DELIVERIES,
    SIGNAL_DELIVERY_KIND,
    WORKFLOWS,
    Obj,
    Resource,
)
from orchapi.vocabulary import RunPhase

log = logging.getLogger("orch.main")
CONTROLLER = "orchestration"
SHUTDOWN_GRACE = 25.0


Settled = Callable[[Obj], bool]


def run_summary(run: Obj, settled: Settled = is_settled) -> tuple[str, bool]:
    """What the metrics and the event filter read of a cached run."""
    return (str((run.get("status") or {}).get("phase") or RunPhase.PENDING), settled(run))


def sealed_settled(sealer: Sealer) -> Settled:
    """Settled (`mapping.is_settled`) by a status the controller wrote itself: a
    status patched to `Succeeded` by anyone else settles nothing (controller.seal)."""
    def settled(run: Obj) -> bool:
        return is_settled(run) and sealer.trusts_status(run)
    return settled


# The reference system's objects that decide ApprovalGate and SignalWait steps.
POLICY, DELIVERY = APPROVAL_POLICY_KIND, SIGNAL_DELIVERY_KIND
RESOURCES: dict[str, Resource] = {
    ORCHESTRATION: ORCHESTRATIONS, RUN: RUNS, WORKFLOW: WORKFLOWS,
    POLICY: APPROVAL_POLICIES, DELIVERY: SIGNAL_DELIVERIES}
# Kinds whose CRD a cluster may lack (the reference system not installed): their
# cache is empty until it appears.
OPTIONAL = frozenset({POLICY, DELIVERY})


def stores(settled: Settled = is_settled) -> dict[str, Store]:
    """One cache per kind, each keeping what its readers need: an Orchestration's
    view (whether it is judged, its graph, its calls; the rest is read live); a
    run whole (its status is written back whole) but compressed once settled; a
    Workflow cut to the mirror's view, compressed once ended, its last state kept
    when deleted; an ApprovalPolicy's name and phase; a SignalDelivery's name and
    what it matches. Whatever is large is kept compressed (`PACK_OVER`)."""
    return {
        ORCHESTRATION: Store(view=orchestration_view, summarize=is_judged,
                             pack_over=PACK_OVER),
        RUN: Store(is_cold=settled, summarize=lambda run: run_summary(run, settled),
                   pack_over=PACK_OVER),
        WORKFLOW: Store(view=workflow_view, is_cold=has_ended, keep_deleted=True,
                        pack_over=PACK_OVER),
        POLICY: Store(view=policy_view),
        DELIVERY: Store(view=delivery_view),
    }


# A cached view larger than this (bytes of JSON) is kept compressed, hot or not:
# about a 40-step run's status. A waiting run of 200 steps then costs its
# compressed size (a few KB), decoded when it is reconciled (issue 22).
PACK_OVER = 16 * 1024

# Only this project's Workflows are listed and watched: the compiler labels each
# with its run (contract §4), so the cache never holds anyone else's.
LABEL_SELECTORS = {WORKFLOW: RUN_LABEL}
# Objects per list page. A page is parsed whole before its objects are cut to
# their views, and CPython keeps the memory it peaked at: a 200-step Workflow is
# ~0.13 MB of JSON and ~0.6 MB as Python objects, a run with 200 step statuses
# ~0.2 MB; 100 such Workflows a page would add ~110 MiB to the RSS for good.
PAGE_SIZES = {ORCHESTRATION: 50, RUN: 25, WORKFLOW: 10, POLICY: 100, DELIVERY: 100}


class Controller:
    """The running controller; `run()` blocks until `stop` is set."""

    def __init__(self, config: Config, stop: threading.Event | None = None,
                 api: ApiClient | None = None) -> None:
        self.config = config
        self.api = api  # loaded before start-up by `main`, so a bad kubeconfig binds no port
        self.stop = stop or threading.Event()
        self.metrics = Metrics()
        self.ready = threading.Event()
        self.leading = threading.Event()  # workers take keys only while set
        self.exit_code = 0
        # Namespaces take turns, and one worker more than `--workers` is kept for a
        # namespace with nothing running: a tenant's backlog never holds up another's
        # runs, neither in the queue nor waiting for a worker.
        self.queue: WorkQueue[Key] = WorkQueue(CONTROLLER, self.metrics,
                                               shard=lambda key: key.namespace,
                                               workers=config.workers + 1)
        self.informers: dict[str, dict[str | None, Informer]] = {}
        self.workers: list[threading.Thread] = []
        self.servers: list[ThreadingHTTPServer] = []
        self.waits = WaitIndex()  # which runs wait on which ApprovalPolicy / Signal
        # Which runs hold one of their namespace's slots (maxActiveRunsPerNamespace).
        self.active_runs = ActiveRuns(config.max_active_runs_per_namespace, self.queue.add)
        self._elector_stop = threading.Event()
        self._elector_thread = threading.Thread()
        self.settled: Settled = is_settled  # sealed_settled once the key is loaded

    # -- HTTP ---------------------------------------------------------------------------
    def _healthy(self) -> bool:
        """Every watch heard from the apiserver within the health window (a watch
        that cannot reach it, or hangs, fails the liveness probe)."""
        window = self.config.health_window
        return all(inf.is_healthy(window) for by_ns in self.informers.values()
                   for inf in by_ns.values())

    def _render_metrics(self) -> bytes:
        runs = self.informers.get(RUN, {})
        phases = Counter(summary[0] for inf in runs.values()
                         for summary in inf.store.summaries()
                         if isinstance(summary, tuple))
        for phase in RunPhase:
            self.metrics.runs.labels(phase).set(phases.get(phase, 0))
        for kind, by_ns in self.informers.items():
            totals: Counter[str] = Counter()
            for inf in by_ns.values():
                totals.update(inf.store.stats())
            for form in ("hot", "cold", "deleted"):
                self.metrics.cache_objects.labels(kind, form).set(totals.get(form, 0))
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
        c = self.config
        api = self.api or load_api_client(c.kubeconfig, c.in_cluster, pool=c.workers + 16)
        kube = Kube(api,
                    self.metrics, request_timeout=c.request_timeout,
                    fence=self.leading.is_set if c.leader_elect else None)
        sealer = self._seal_key(kube)
        if sealer is None:
            return self._shutdown(None, kube)
        self.settled = sealed_settled(sealer)
        caches = Caches(
            orchestration=self._lookup(ORCHESTRATION), run=self._lookup(RUN),
            workflow=self._lookup(WORKFLOW), deleted_workflow=self._deleted_workflow,
            forget_deleted_workflow=self._forget_deleted_workflow,
            policy=self._lookup(POLICY), deliveries=self.waits.deliveries_for)
        reconciler = Reconciler(
            kube, caches, Recorder(kube), service_account=c.workflow_service_account,
            pacer=Pacer(interval=c.status_interval),
            pods=c.workflow_pods,
            limits=InstallLimits(max_depth=c.max_sub_orchestration_depth,
                                 allowed_kinds=c.allowed_step_kinds, max_steps=c.max_steps,
                                 max_descendants=c.max_descendants),
            sealer=sealer,
            argo_defaults=(ArgoDefaults(kube, *c.argo_config_map).judgement
                           if c.argo_config_map else None),
            waits=self.waits.set_workflow, capacity=self.active_runs)
        self.metrics.max_workers.labels(CONTROLLER).set(self.config.workers + 1)
        # Runs (and Orchestrations) first: a Workflow's event is judged by its run's
        # cached state (a settled run's Workflow wakes nothing), so that state must
        # be there when the Workflows are listed.
        self._start_informers(kube, reconciler, (ORCHESTRATION, RUN, POLICY, DELIVERY))
        self._wait_synced()
        self._start_informers(kube, reconciler, (WORKFLOW,))
        self._wait_synced()
        if self.stop.is_set():
            return self._shutdown(None)
        self.ready.set()
        log.info("caches synced", extra={"namespaces": self.config.namespaces or ["*"]})
        elector: LeaderElector | None = None
        self._elector_stop = threading.Event()  # set only once the workers are done
        if c.leader_elect:
            elector = LeaderElector(kube, c.lease_namespace, c.lease_name, c.identity,
                                    c.lease_duration, c.renew_deadline, c.retry_period,
                                    self.metrics)
            self._elector_thread = threading.Thread(
                target=elector.run, name="leader-election", daemon=True,
                args=(self._elector_stop, self.leading.set, self.leading.clear))
            self._elector_thread.start()
        else:
            self.leading.set()
        self._start_workers(reconciler)
        self.stop.wait()
        return self._shutdown(elector, kube)

    def _seal_key(self, kube: Kube) -> Sealer | None:
        """The install's seal key (controller.sealkey), retried while the apiserver
        cannot be reached; None (exit 1) when it refuses, or stopped meanwhile."""
        c = self.config
        name = c.seal_secret or seal_secret_name(c.lease_name)
        delay = 0.5
        while not self.stop.is_set():
            try:
                return load_sealer(kube, c.lease_namespace, name)
            except (SealKeyError, ApiError) as e:
                if isinstance(e, SealKeyError) or (e.status < 500 and e.status != 429):
                    log.error("cannot use the seal key", extra={
                        "secret": f"{c.lease_namespace}/{name}", "error": str(e)})
                    self.exit_code = 1
                    return None
                log.warning("cannot read the seal key; retrying", extra={
                    "secret": f"{c.lease_namespace}/{name}", "error": str(e)})
            except Exception as e:  # the apiserver unreachable, a timeout
                log.warning("cannot read the seal key; retrying", extra={
                    "secret": f"{c.lease_namespace}/{name}", "error": repr(e)})
            self.stop.wait(delay)
            delay = min(delay * 2, 10.0)
        return None

    def _informer(self, kind: str, namespace: str) -> Informer | None:
        by_ns = self.informers.get(kind, {})
        return by_ns.get(namespace) or by_ns.get(None)

    def _lookup(self, kind: str) -> Callable[[str, str], Obj | None]:
        def get(namespace: str, name: str) -> Obj | None:
            informer = self._informer(kind, namespace)
            return informer.get(namespace, name) if informer else None
        return get

    def _deleted_workflow(self, namespace: str, name: str) -> Obj | None:
        informer = self._informer(WORKFLOW, namespace)
        return informer.store.deleted(namespace, name) if informer else None

    def _forget_deleted_workflow(self, namespace: str, name: str, uid: str) -> None:
        informer = self._informer(WORKFLOW, namespace)
        if informer:
            informer.store.forget_deleted(namespace, name, uid)

    def _is_known(self, key: Key) -> bool:
        informer = self._informer(RUN, key.namespace)
        return informer is not None and informer.store.version(
            (key.namespace, key.name)) is not None

    def _is_settled(self, key: Key) -> bool:
        informer = self._informer(RUN, key.namespace)
        summary = informer.store.summary(key.namespace, key.name) if informer else None
        return isinstance(summary, tuple) and bool(summary[1])

    def _start_informers(self, kube: Kube, reconciler: Reconciler,
                         kinds: Sequence[str]) -> None:
        namespaces: Sequence[str | None] = self.config.namespaces or (None,)
        for kind in kinds:
            res = RESOURCES[kind]
            handler = self._wait_handler(kind) if kind in OPTIONAL \
                else self._handler(kind, reconciler)
            for ns in namespaces:
                informer = Informer(kube, res, ns, handler, self.metrics,
                                    store=stores(self.settled)[kind],
                                    label_selector=LABEL_SELECTORS.get(kind, ""),
                                    page_size=PAGE_SIZES[kind],
                                    idle_timeout=self.config.watch_idle_timeout,
                                    optional=kind in OPTIONAL)
                self.informers.setdefault(kind, {})[ns] = informer
                threading.Thread(target=informer.run, name=f"watch-{res.plural}-{ns or 'all'}",
                                 daemon=True).start()

    def _wait_handler(self, kind: str) -> Callable[[str, Obj], None]:
        """An ApprovalPolicy or SignalDelivery event wakes the runs it may release
        (`controller.waitindex`): no run is polled."""
        def on_event(event_type: str, obj: Obj) -> None:
            ns = str((obj.get("metadata") or {}).get("namespace") or "")
            if kind == DELIVERY:
                if event_type == "DELETED":
                    self.waits.remove_delivery(obj)
                    return  # a delivery gone releases nothing
                self.waits.put_delivery(obj)
                targets = delivery_targets(obj)
            else:
                targets = policy_targets(obj)
            for key in self.waits.waiting_runs(ns, targets):
                assert isinstance(key, Key)
                self.queue.add(key)
        return on_event

    def _handler(self, kind: str, reconciler: Reconciler) -> Callable[[str, Obj], None]:
        def on_event(event_type: str, obj: Obj) -> None:
            mine = own_key(kind, obj)
            if kind == RUN:  # who holds a slot (before any filter below)
                self.active_runs.observe(mine, None if event_type == "DELETED" else obj)
            if kind == WORKFLOW and event_type == "DELETED":
                # What it waited on is forgotten here; what a Workflow waits on is
                # read by the worker that reconciles the run owning it, never here
                # (the node status may be compressed: issue 22).
                self.waits.set_workflow(mine.namespace, mine.name, None, ())
            if event_type == "DELETED":
                reconciler.forget(mine)  # `written` never outlives its object
            elif is_own_write(mine, obj, reconciler.written):
                return  # the echo of our own status write or Workflow create
            elif (kind == RUN and self.settled(obj)) or (kind == ORCHESTRATION
                                                       and is_judged(obj)):
                return  # nothing left to do for it
            for key in keys_for(kind, obj):
                ignored = kind == WORKFLOW and (
                    self._is_settled(key)  # the run ended and said so: nothing changes
                    # no run to tell (a run not seen yet is woken by its own event)
                    or (event_type == "DELETED" and not self._is_known(key)))
                if not ignored:
                    self.queue.add(key)
                elif event_type == "DELETED":  # nobody will read its last state
                    meta = obj.get("metadata") or {}
                    self._forget_deleted_workflow(str(meta.get("namespace") or ""),
                                                  str(meta.get("name") or ""),
                                                  str(meta.get("uid") or ""))
        return on_event

    def _wait_synced(self) -> None:
        for by_ns in self.informers.values():
            for informer in by_ns.values():
                while not informer.synced.wait(0.5):
                    if self.stop.is_set():
                        return

    def _start_workers(self, reconciler: Reconciler) -> None:
        for i in range(self.config.workers + 1):  # one kept for idle namespaces
            t = threading.Thread(target=self._work, args=(reconciler,), name=f"worker-{i}",
                                 daemon=True)
            t.start()
            self.workers.append(t)
        log.info("workers started (they reconcile while this replica leads)",
                 extra={"workers": self.config.workers + 1})

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
                    "key": str(key), "error": repr(e), "retry_in": round(delay, 3),
                    "failures": self.queue.num_requeues(key)})
            else:
                if result.backoff and result.requeue_after is not None:
                    m.reconcile_total.labels(CONTROLLER, "requeue").inc()
                    self.queue.add_rate_limited(key, result.requeue_after)
                elif result.requeue_after is not None:
                    self.queue.forget(key)
                    m.reconcile_total.labels(CONTROLLER, "requeue_after").inc()
                    self.queue.add_after(key, result.requeue_after)
                else:
                    self.queue.forget(key)
                    m.reconcile_total.labels(CONTROLLER, "success").inc()
            finally:
                jsoncost.GATE.release_held()  # what the reconcile parsed is let go
                elapsed = time.monotonic() - start
                m.reconcile_time.labels(CONTROLLER).observe(elapsed)
                m.work_duration.labels(CONTROLLER).observe(elapsed)
                m.active_workers.labels(CONTROLLER).dec()
                self.queue.done(key)

    def _shutdown(self, elector: LeaderElector | None, kube: Kube | None = None) -> int:
        """Stop taking work; let in-flight reconciles finish while the Lease is still
        renewed; release it only if they all did (else it is left to expire, so no
        successor acts while one of ours may still write); stop the watches."""
        log.info("shutting down")
        self.ready.clear()
        self.queue.shutdown()
        deadline = time.monotonic() + SHUTDOWN_GRACE
        for t in self.workers:
            t.join(max(0.0, deadline - time.monotonic()))
        busy = [t.name for t in self.workers if t.is_alive()]
        self._elector_stop.set()
        if elector is not None:
            self._elector_thread.join(self.config.renew_deadline + 1)
            if busy:
                log.warning("reconciles still running after the grace period; the Lease "
                            "is left to expire instead of being released",
                            extra={"workers": busy})
            else:
                elector.release(min(self.config.request_timeout, 5.0))
        for by_ns in self.informers.values():
            for informer in by_ns.values():
                informer.stop()
        if kube is not None:
            kube.close()
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
    api = None
    if config.enabled:
        try:
            api = load_api_client(config.kubeconfig, config.in_cluster,
                                  pool=config.workers + 16)
        except ClusterConfigError as e:
            where = "the in-cluster configuration" if config.in_cluster else (
                f"the kubeconfig {config.kubeconfig or '~/.kube/config'}")
            sys.stderr.write(f"orch controller: error: cannot use {where}: {e}\n")
            return 2
    setup_logging(config.log_level)
    controller = Controller(config, api=api)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal received", extra={"signal": signal.Signals(signum).name})
        controller.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return controller.run()
