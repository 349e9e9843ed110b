"""The throughput benchmark's arithmetic (benchmarks.many_runs, benchmarks.probes):
what it reads from Prometheus text and the audit log, which phases it compares,
and Argo's settings it derives. The measurement itself needs the real cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.many_runs import Phase, pairs, spread, verdict, with_overrides
from benchmarks.probes import AuditLog, delta, samples
from tests.cluster.argo import DEFAULT, FAST

METRICS = """\
# HELP rest_client_requests_total Number of HTTP requests
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="h",method="GET"} 3
rest_client_requests_total{code="201",host="h",method="POST"} 2
rest_client_requests_total{code="409",host="h",method="PUT"} 1
rest_client_requests_total{code="200",host="h",method="PUT"} 4
rest_client_requests_totalx{method="GET"} 100
"""


def test_samples_sum_a_metric_by_the_labels_asked_for() -> None:
    assert samples(METRICS, "rest_client_requests_total", ("method",)) == {
        ("GET",): 3, ("POST",): 2, ("PUT",): 5}
    assert delta({("PUT",): 5, ("GET",): 3}, {("PUT",): 2, ("GET",): 3}) == {("PUT",): 3}


def test_the_audit_log_counts_one_users_requests_once_each(tmp_path: Path) -> None:
    user = "system:serviceaccount:orch:orch"

    def event(verb: str, stage: str, resource: str, sub: str = "",
              who: str = user) -> str:
        ref = {"resource": resource, **({"subresource": sub} if sub else {})}
        return json.dumps({"user": {"username": who}, "verb": verb, "stage": stage,
                           "objectRef": ref})
    log = tmp_path / "audit.log"
    log.write_text("\n".join([
        event("get", "ResponseComplete", "orchestrationruns"),
        event("update", "RequestReceived", "orchestrationruns", "status"),
        event("update", "ResponseComplete", "orchestrationruns", "status"),
        event("watch", "ResponseStarted", "workflows"),
        event("watch", "ResponseComplete", "workflows"),  # the same watch, ending
        event("create", "ResponseComplete", "pods", who="system:admin"),
        "not json",
    ]) + "\n")
    assert AuditLog(log, user).requests(0) == {
        ("get", "orchestrationruns"): 1, ("update", "orchestrationruns/status"): 1,
        ("watch", "workflows"): 1}


def phase(kind: str, argo: str, seconds: float, cpu: float = 1.0) -> Phase:
    p = Phase(kind, 10, argo, all_ended_s=seconds, argo_cpu_s=cpu, controller_cpu_s=cpu / 10)
    p.controller_requests = {"PUT": 40.0, "GET": 20.0}
    return p


def test_each_orch_phase_is_compared_with_the_argo_phase_of_its_settings_beside_it() -> None:
    a1, o1, o2, a2 = (phase("argo", "fast", 100), phase("orch", "fast", 110),
                      phase("orch", "fast", 120), phase("argo", "fast", 90))
    assert pairs([a1, o1, o2, a2]) == [(o1, a1), (o2, a2)]
    other = phase("argo", "default", 50)
    assert pairs([other, o1]) == []  # never against other settings
    v = verdict(o1, a1)
    assert (v["time_ratio"], v["cpu_ratio"], v["requests_per_run"]) == (1.1, 0.1, 6.0)
    assert v["time_target_met"] is False and v["requests_target_met"] is False
    s = spread([verdict(o1, a1), verdict(o2, a2)])
    assert s["time_ratio"] == {"median": pytest.approx(1.2165, abs=1e-3),
                               "range": [1.1, 1.333]}


def test_argo_settings_from_overrides() -> None:
    got = with_overrides(DEFAULT, ["workflow_workers=32", "qps=500", "requeue_time=2s",
                                   "env:GOGC=200", "config:nodeEvents=enabled: false"])
    assert "--workflow-workers=32" in got.argv() and "--qps=500" in got.argv()
    assert got.environment()["DEFAULT_REQUEUE_TIME"] == "2s"
    assert got.environment()["GOGC"] == "200"
    assert got.configmap_data()["nodeEvents"] == "enabled: false\n"
    assert DEFAULT.argv() == ["--loglevel=info", "--workflow-workers=8", "--qps=100",
                              "--burst=200", "--pod-cleanup-workers=4"]
    assert FAST.qps > DEFAULT.qps
    with pytest.raises(SystemExit):
        with_overrides(DEFAULT, ["no_such=1"])
