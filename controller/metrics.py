"""Prometheus metrics under controller-runtime's names, so dashboards and alerts
written for Go controllers (kubebuilder's, controller-runtime's) work unchanged.

One registry per process (not the global default) so tests can build several
controllers in one interpreter without duplicate-metric errors.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45,
                      0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0,
                      4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60)
_QUEUE_BUCKETS = tuple(10.0 ** e for e in range(-8, 2))


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.reconcile_total = Counter(
            "controller_runtime_reconcile_total",
            "Total number of reconciliations per controller", ["controller", "result"],
            registry=r)
        self.reconcile_errors = Counter(
            "controller_runtime_reconcile_errors_total",
            "Total number of reconciliation errors per controller", ["controller"], registry=r)
        self.reconcile_time = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller", ["controller"],
            buckets=_RECONCILE_BUCKETS, registry=r)
        self.active_workers = Gauge(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller", ["controller"], registry=r)
        self.max_workers = Gauge(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller", ["controller"], registry=r)
        self.depth = Gauge("workqueue_depth", "Current depth of workqueue", ["name"], registry=r)
        self.adds = Counter("workqueue_adds_total", "Total number of adds handled by workqueue",
                            ["name"], registry=r)
        self.retries = Counter("workqueue_retries_total",
                               "Total number of retries handled by workqueue", ["name"],
                               registry=r)
        self.queue_duration = Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            ["name"], buckets=_QUEUE_BUCKETS, registry=r)
        self.work_duration = Histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes",
            ["name"], buckets=_QUEUE_BUCKETS, registry=r)
        self.leader = Gauge("leader_election_master_status",
                            "Gauge of if the reporting system is master of the relevant lease, "
                            "0 indicates backup, 1 indicates master", ["name"], registry=r)
        self.runs = Gauge("orch_orchestration_runs", "OrchestrationRuns in the cache by phase",
                          ["phase"], registry=r)
        self.cache_objects = Gauge(
            "orch_cache_objects", "Objects in the watch caches, by resource and form "
            "(hot: a dict; cold: compressed; deleted: a deleted object's last state)",
            ["resource", "form"], registry=r)
        self.watch_restarts = Counter(
            "orch_watch_restarts_total", "Watches restarted, by resource and reason",
            ["resource", "reason"], registry=r)
        self.skipped_objects = Counter(
            "orch_watch_skipped_objects_total", "Objects or watch events skipped because "
            "they could not be read (logged with the object's name)", ["resource"],
            registry=r)
        self.api_requests = Counter(
            "rest_client_requests_total", "Number of HTTP requests, partitioned by method "
            "and status code", ["code", "method"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
