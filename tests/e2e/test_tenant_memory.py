"""Issue 22 item 1: the largest objects a tenant can create leave the controller
under the chart's memory limit and serving other namespaces (contract §6).

A tenant (issue 22's Role, plus Workflows) fills its namespace with objects of
each kind it may create (four of each here, ten in the benchmark), each at the
apiserver's size limit and of the shape that costs Python most per byte (empty
objects under a key the CRD keeps unknown): Orchestrations (one Container step
whose unknown key holds them: issue 22's object, 35 MiB in the cache before),
runs (in a step status's `outputs`), SignalDeliveries (`payload`),
ApprovalPolicies (`spec`), Tools (`args`) and Workflows with the run label (a node
map of empty nodes). The controller then starts (the restart that died at every
attempt) under `MemoryLimit` (the chart's 256 MiB, enforced as a kubelet would),
a victim's run must end, and runs of the heavy Orchestration are submitted while a
second victim's run must end too.

What it adds to the suite: about two minutes (the apiserver takes about 5 s to
validate each 1.5 MB object); ORCH_TENANT_OBJECTS=10 makes it the benchmark's
ten of each kind (the README's numbers).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cluster import Cluster
from tests.cluster.kube import wait_for
from tests.e2e.orch_controller import API, WF_API, leading_controller, orchestration, run
from tests.e2e.tenancy import (
    MemoryLimit,
    Tenant,
    at_size_limit,
    make_tenant,
    send,
    workflow_namespace,
)
from tests.e2e.test_tenant_attacks import CHECKPOINT, NOT_ARGOS, RUN_LABEL

pytestmark = [pytest.mark.e2e, pytest.mark.security]
COUNT = int(os.environ.get("ORCH_TENANT_OBJECTS", "4"))  # of each kind; the benchmark: 10


def empties(size: int) -> str:
    """About `size` bytes of `{},{},...`."""
    return ",".join(["{}"] * (size // 3))


def texts(namespace: str) -> dict[str, tuple[str, Callable[[str, int], bytes]]]:
    """kind -> (its collection's path, name and size -> the object's JSON text)."""
    def orch(name: str, size: int) -> bytes:
        return json.dumps({"apiVersion": API, "kind": "Orchestration",
                           "metadata": {"name": name},
                           "spec": {"steps": [{"name": "a", "kind": "Container",
                                               "image": "alpine:3.20", "junk": ["@"]}]}}
                          ).replace('["@"]', f"[{empties(size)}]").encode()

    def delivery(name: str, size: int) -> bytes:
        return json.dumps({"apiVersion": "signals.proompteng.ai/v1alpha1",
                           "kind": "SignalDelivery", "metadata": {"name": name},
                           "spec": {"signalRef": {"name": "s"}, "payload": {"junk": ["@"]}}}
                          ).replace('["@"]', f"[{empties(size)}]").encode()

    def policy(name: str, size: int) -> bytes:
        return json.dumps({"apiVersion": "approvals.proompteng.ai/v1alpha1",
                           "kind": "ApprovalPolicy", "metadata": {"name": name},
                           "spec": {"junk": ["@"]}}
                          ).replace('["@"]', f"[{empties(size)}]").encode()

    def tool(name: str, size: int) -> bytes:
        return json.dumps({"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
                           "metadata": {"name": name},
                           "spec": {"image": "alpine:3.20", "args": ["@"]}}
                          ).replace('["@"]', "[" + ",".join(['""'] * (size // 3)) + "]"
                                    ).encode()

    def workflow(name: str, size: int) -> bytes:
        nodes = ",".join(f'"n{i}":{{}}' for i in range(size // 12))
        return json.dumps({"apiVersion": WF_API, "kind": "Workflow",
                           "metadata": {"name": name, "labels": {RUN_LABEL: name,
                                                                 **NOT_ARGOS}},
                           "spec": {"entrypoint": "main",
                                    "templates": [{"name": "main", "suspend": {}}]},
                           "status": {"phase": "Running", "nodes": "@"}}
                          ).replace('"@"', "{" + nodes + "}").encode()

    base = f"/namespaces/{namespace}"
    return {
        "Orchestration": (f"/apis/{API}{base}/orchestrations", orch),
        "SignalDelivery": (f"/apis/signals.proompteng.ai/v1alpha1{base}/signaldeliveries",
                           delivery),
        "ApprovalPolicy": (f"/apis/approvals.proompteng.ai/v1alpha1{base}/approvalpolicies",
                           policy),
        "Tool": (f"/apis/tools.proompteng.ai/v1alpha1{base}/tools", tool),
        "Workflow": (f"/apis/{WF_API}{base}/workflows", workflow),
    }


def fill(tenant: Tenant) -> dict[str, int]:
    """COUNT objects of each kind at the size limit; kind -> bytes of the first."""
    sizes = {}
    for kind, (path, make) in texts(tenant.namespace).items():
        first = f"{kind.lower()}-0"

        def made(n: int, make: Callable[[str, int], bytes] = make, first: str = first) -> bytes:
            return make(first, n)

        def post(text: bytes, path: str = path) -> dict[str, object]:
            return send(tenant.kube, "POST", path, text)
        limit = at_size_limit(made, post)
        sizes[kind] = len(made(limit))
        for i in range(1, COUNT):  # names of the same length: the same size fits
            post(make(f"{kind.lower()}-{i}", limit))
    # Runs: the tenant may write their status; a step status keeps unknown fields.
    runs = f"/apis/{API}/namespaces/{tenant.namespace}/orchestrationruns"
    for i in range(COUNT):
        send(tenant.kube, "POST", runs, json.dumps(run(f"heavy-status-{i}", "missing")))

    def status(n: int) -> bytes:
        return json.dumps({"status": {"stepStatuses": [
            {"name": "a", "kind": "Container", "outputs": {"junk": "@"}}]}}).replace(
            '"@"', f"[{empties(n)}]").encode()

    def patch(i: int) -> Callable[[bytes], dict[str, object]]:
        return lambda text: send(tenant.kube, "PATCH", f"{runs}/heavy-status-{i}/status",
                                 text, "application/merge-patch+json")
    limit = at_size_limit(status, patch(0))
    sizes["OrchestrationRun"] = len(status(limit))
    for i in range(1, COUNT):
        patch(i)(status(limit))
    return sizes


def test_the_largest_objects_a_tenant_can_create_leave_the_controller_under_its_limit(
        cluster: Cluster, tmp_path: Path) -> None:
    tenant = make_tenant(cluster, workflow_namespace(cluster, "mem-tenant"), tmp_path,
                         account="argo-user", edits_workflows=True)
    victim = workflow_namespace(cluster, "mem-victim")
    sizes = fill(tenant)
    print(f"\nobject sizes at the limit (bytes): {sizes}")
    assert all(size > 1_000_000 for size in sizes.values()), sizes
    cluster.kube.apply(orchestration("victim", CHECKPOINT), victim)
    with leading_controller(cluster, tmp_path, "memory", ready_timeout=120,
                            namespaces=[tenant.namespace, victim]) as proc:
        assert proc.popen is not None
        memory = MemoryLimit(proc.popen.pid)

        def served(name: str) -> None:
            """The victim's run ends, unless the controller was killed first."""
            def done() -> bool:
                assert not memory.killed, f"killed at {memory.peak >> 20} MiB, as a kubelet would"
                obj = cluster.kube.get(API, "OrchestrationRun", name, victim) or {}
                return (obj.get("status") or {}).get("phase") == "Succeeded"
            wait_for(done, f"{victim}/{name} Succeeded", 90, 0.1)
        try:
            cluster.kube.apply(run("v-1", "victim"), victim)
            served("v-1")
            after_start = memory.peak
            for i in range(COUNT):  # each submission reads the heavy Orchestration live
                tenant.kube.apply(run(f"heavy-{i}", "orchestration-0"), tenant.namespace)
            cluster.kube.apply(run("v-2", "victim"), victim)
            served("v-2")
            wait_for(lambda: all(
                ((cluster.kube.get(API, "OrchestrationRun", f"heavy-{i}", tenant.namespace)
                  or {}).get("status") or {}).get("conditions") for i in range(COUNT)),
                "every heavy run decided", 120, 0.2)
            rss = memory.rss()
            assert not memory.killed, f"killed at {memory.peak >> 20} MiB"
        finally:
            peak = memory.stop()
    print(f"controller: peak RSS {after_start / 2**20:.1f} MiB after listing "
          f"{COUNT * len(sizes)} objects at the size limit, {peak / 2**20:.1f} MiB "
          f"after {COUNT} submissions of the heavy Orchestration; RSS now "
          f"{rss / 2**20:.1f} MiB")
    assert peak < memory.limit
    cluster.kube.delete("v1", "Namespace", tenant.namespace)
