"""Issue 22, crash and starve: what a tenant writes in its own namespace must not
stop, stall or starve the controller for another namespace (contract §6). Each
attack is made by a tenant (tests/e2e/tenancy.py: a real token, issue 22's Role)
against the controller under the chart's RBAC, held to the chart's memory limit
as a kubelet would hold it (`MemoryLimit`), and a victim in another namespace
must still be served.

What these tests add to the suite: about 2.5 minutes on the test cluster (2
cores, shared), most of it Argo running the flood of the fairness test.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchapi.api import Obj
from tests.cluster import Cluster
from tests.cluster.kube import wait_for
from tests.e2e.orch_controller import (
    API,
    WF_API,
    ControllerProcess,
    condition,
    leading_controller,
    orchestration,
    run,
    service_account_kubeconfig,
)
from tests.e2e.tenancy import (
    MemoryLimit,
    cluster_wide_kubeconfig,
    make_tenant,
    workflow_namespace,
)

pytestmark = [pytest.mark.e2e, pytest.mark.security]
RUN_LABEL = "orchestration.proompteng.ai/run"
# Argo's controller ignores a Workflow of another controller instance: the
# tenant's forged Workflows are read by orch only (Argo would choke on them too).
NOT_ARGOS = {"workflows.argoproj.io/controller-instanceid": "nobody"}
CHECKPOINT = [{"name": "a", "kind": "Checkpoint"}]


def run_in(cluster: Cluster, namespace: str, name: str) -> Obj | None:
    return cluster.kube.get(API, "OrchestrationRun", name, namespace)


def wait_succeeded(cluster: Cluster, namespace: str, name: str, timeout: float) -> Obj:
    def done() -> Obj | None:
        obj = run_in(cluster, namespace, name) or {}
        return obj if (obj.get("status") or {}).get("phase") == "Succeeded" else None
    found: Obj = wait_for(done, f"{namespace}/{name} Succeeded", timeout, 0.1)
    return found


def victim_run(cluster: Cluster, namespace: str, name: str) -> None:
    cluster.kube.apply(orchestration("victim", CHECKPOINT), namespace)
    cluster.kube.apply(run(name, "victim"), namespace)


@contextmanager
def limited(proc: ControllerProcess) -> Iterator[MemoryLimit]:
    assert proc.popen is not None
    limit = MemoryLimit(proc.popen.pid)
    try:
        yield limit
    finally:
        limit.stop()


# -- a malformed Workflow, namespaces ["*"] -----------------------------------------------
def test_a_malformed_workflow_never_stalls_mirroring_in_other_namespaces(
        cluster: Cluster, tmp_path: Path) -> None:
    """Issue 22 item 3: a Workflow whose node status is not a node map (a tenant
    that edits Workflows wrote it, with the run label) made the informer's handler
    raise; the watch restarted from the same version, met it again, and with
    `namespaces: ["*"]` every namespace's mirroring stopped. Now it is skipped: the
    tenant edits it again and again while a victim's run, created after, ends."""
    tenant = make_tenant(cluster, workflow_namespace(cluster, "atk-malformed"), tmp_path,
                         account="argo-user", edits_workflows=True)
    victim = workflow_namespace(cluster, "atk-malformed-victim")
    bad: Obj = {"apiVersion": WF_API, "kind": "Workflow",
           "metadata": {"name": "bad", "labels": {RUN_LABEL: "r", **NOT_ARGOS}},
           "spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]},
           "status": {"phase": "Running", "nodes": {"bad": "not a node", "x": 7}}}
    kubeconfig = cluster_wide_kubeconfig(cluster, "orch-e2e-star", tmp_path / "star")
    proc = ControllerProcess(kubeconfig, "*", tmp_path, "star-0", cluster.namespace,
                             "orch-e2e-star").start()
    try:
        proc.wait_ready()
        wait_for(proc.is_leader, "the controller to hold its Lease", 20, 0.1)
        tenant.kube.apply(bad, tenant.namespace)
        for i in range(5):  # each edit is one more event of the bad object
            tenant.kube.apply({**bad, "metadata": {**bad["metadata"],
                                                   "annotations": {"edit": str(i)}}},
                              tenant.namespace)
        victim_run(cluster, victim, "v-1")
        wait_succeeded(cluster, victim, "v-1", 60)
        assert proc.metric("orch_watch_restarts_total", resource="workflows") == 0
        assert proc.metric("orch_watch_skipped_objects_total", resource="workflows") >= 1
    finally:
        proc.stop()
        print(f"\ncontroller log tail:\n{proc.tail(15)}")


# -- a gzip bomb in a Workflow that carries the run label -----------------------------------
def gzip_bomb(decompressed: int) -> str:
    """About 1.4 KB of gzip per MiB of `[{},{},...]`: 600 MB in about 820 KB, as in
    issue 22 (gzip members of 1 MiB each, which Go's reader and orch's read as one)."""
    member = gzip.compress(b"{}," * (1024 * 1024 // 3), 9)
    count = decompressed // (1024 * 1024)
    data = gzip.compress(b"[", 9) + member * count + gzip.compress(b"{}]", 9)
    return base64.b64encode(data).decode()


def test_a_gzip_bomb_in_a_labelled_workflow_does_not_kill_the_controller(
        cluster: Cluster, tmp_path: Path) -> None:
    """Issue 22 item 2: 816 KB of gzip (600 MB of JSON) in `status.compressedNodes`
    of a Workflow that merely carries the run label was decoded by the watch
    handler before any ownership check, and killed the controller within seconds.
    Now nothing decodes a Workflow its run does not own: under the chart's 256 MiB,
    the controller lives and the victim's run ends."""
    tenant = make_tenant(cluster, workflow_namespace(cluster, "atk-bomb"), tmp_path,
                         account="argo-user", edits_workflows=True)
    victim = workflow_namespace(cluster, "atk-bomb-victim")
    bomb = gzip_bomb(600 * 1024 * 1024)
    assert len(bomb) < 1_200_000
    with leading_controller(cluster, tmp_path, "bomb",
                            namespaces=[tenant.namespace, victim]) as proc, \
            limited(proc) as memory:
        victim_run(cluster, victim, "v-1")
        wait_succeeded(cluster, victim, "v-1", 60)
        before = proc.metric("orch_cache_objects", resource="Workflow")
        tenant.kube.apply(orchestration("o", CHECKPOINT), tenant.namespace)
        tenant.kube.apply(run("r", "o"), tenant.namespace)  # the run the label names
        for name in ("bomb-1", "bomb-2", "marker"):
            status = {"phase": "Running", **({"compressedNodes": bomb} if name != "marker"
                                             else {})}
            tenant.kube.apply({"apiVersion": WF_API, "kind": "Workflow",
                               "metadata": {"name": name, "labels": {RUN_LABEL: "r",
                                                                     **NOT_ARGOS}},
                               "spec": {"entrypoint": "main", "templates": [
                                   {"name": "main", "suspend": {}}]},
                               "status": status}, tenant.namespace)
        # The watch takes a namespace's events in order: once the marker is in the
        # cache, both bombs have been through the handler. (Their run's own
        # Workflow, r, makes one more.)
        wait_for(lambda: proc.metric("orch_cache_objects", resource="Workflow")
                 >= before + 4 or memory.killed, "the bombs taken by the watch", 60, 0.1)
        assert not memory.killed, f"killed at {memory.peak >> 20} MiB, as the kubelet would"
        victim_run(cluster, victim, "v-2")
        wait_succeeded(cluster, victim, "v-2", 60)
        assert proc.popen is not None and proc.popen.poll() is None
    assert memory.peak < memory.limit, f"peak {memory.peak >> 20} MiB"
    print(f"\npeak RSS with two gzip bombs: {memory.peak / 2**20:.1f} MiB")


# -- fairness and the active-run cap -------------------------------------------------------
def test_a_tenants_backlog_does_not_hold_up_another_namespace(
        cluster: Cluster, tmp_path: Path) -> None:
    """Issue 22 item 4: one FIFO queue let 300 waiting runs delay a victim's
    submission by 17.4 s. Now namespaces take turns. The backlog is made exactly:
    another replica holds the Lease while the tenant's 60 runs and then the
    victim's are queued (the watches run, the workers wait), then lets it go. At
    most about one key per worker of the tenant's is submitted before the victim's.
    (Order, not time: the controller's creates as its log lists them.)"""
    tenant = make_tenant(cluster, workflow_namespace(cluster, "atk-flood"), tmp_path)
    victim = workflow_namespace(cluster, "atk-flood-victim")
    lease: Obj = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                  "metadata": {"name": "orch-e2e-flood", "namespace": cluster.namespace},
                  "spec": {"holderIdentity": "another-replica", "leaseDurationSeconds": 3600}}
    cluster.kube.apply(lease)
    kubeconfig = service_account_kubeconfig(cluster, [tenant.namespace, victim],
                                            cluster.namespace, "orch-e2e-flood",
                                            tmp_path / "sa-kubeconfig")
    proc = ControllerProcess(kubeconfig, f"{tenant.namespace},{victim}", tmp_path,
                             "flood-0", cluster.namespace, "orch-e2e-flood").start()
    try:
        proc.wait_ready()
        steps = [{"name": f"s{i}", "kind": "Checkpoint"} for i in range(20)]
        tenant.kube.apply(orchestration("wide", steps), tenant.namespace)
        cluster.kube.apply(orchestration("victim", CHECKPOINT), victim)
        for i in range(60):
            tenant.kube.apply(run(f"f-{i}", "wide"), tenant.namespace)
        cluster.kube.apply(run("v-1", "victim"), victim)
        wait_for(lambda: proc.metric("workqueue_depth") >= 61, "every run queued", 60, 0.1)
        cluster.kube.apply({**lease, "spec": {"holderIdentity": "",
                                              "leaseDurationSeconds": 1}})

        def submitted() -> bool:
            obj = run_in(cluster, victim, "v-1") or {}
            conds = (obj.get("status") or {}).get("conditions") or ()
            return any(c["type"] == "Submitted" and c["status"] == "True" for c in conds)
        wait_for(submitted, "the victim's run submitted", 120, 0.1)
        runs = [json.loads(line).get("run") for line in proc.log.read_text().splitlines()
                if '"workflow created"' in line]
        ahead = runs.index(f"{victim}/v-1")
        print(f"\n{ahead} of the tenant's 60 queued runs were submitted before the victim's")
        assert ahead <= 12, f"{ahead} of the tenant's runs were submitted before the victim's"
    finally:
        proc.stop()
        print(f"\ncontroller log tail:\n{proc.tail(5)}")
        cluster.kube.delete("v1", "Namespace", tenant.namespace)  # Argo need not run them


def test_runs_past_the_namespace_cap_wait_oldest_first_and_start_as_one_ends(
        cluster: Cluster, tmp_path: Path) -> None:
    """maxActiveRunsPerNamespace: with 3, a tenant's 8 runs (each waiting on a
    signal) make 3 Workflows; the other 5 wait with `ActiveRunLimit`; when one is
    released, the oldest waiting run starts; another namespace is not counted."""
    tenant = make_tenant(cluster, workflow_namespace(cluster, "atk-cap"), tmp_path)
    victim = workflow_namespace(cluster, "atk-cap-victim")
    steps = [{"name": "wait", "kind": "SignalWait", "signalRef": {"name": "go"}}]
    with leading_controller(cluster, tmp_path, "cap", namespaces=[tenant.namespace, victim],
                            env={"ORCH_MAX_ACTIVE_RUNS_PER_NAMESPACE": "3"}):
        tenant.kube.apply(orchestration("w", steps), tenant.namespace)
        for i in range(8):
            tenant.kube.apply(run(f"c-{i}", "w"), tenant.namespace)
            time.sleep(1.05)  # creationTimestamp has whole seconds: a clear order

        def reasons() -> dict[str, str]:
            out = {}
            for r in cluster.kube.list_objects(API, "OrchestrationRun", tenant.namespace):
                conds = {c["type"]: c for c in (r.get("status") or {}).get("conditions") or ()}
                out[r["metadata"]["name"]] = (conds.get("Submitted") or {}).get("reason", "")
            return out
        wait_for(lambda: sorted(reasons().values()) == ["ActiveRunLimit"] * 5
                 + ["WorkflowCreated"] * 3, "3 submitted, 5 waiting", 60, 0.2)
        assert {n for n, r in reasons().items() if r == "WorkflowCreated"} == {
            "c-0", "c-1", "c-2"}
        waiting = run_in(cluster, tenant.namespace, "c-5") or {}
        assert waiting["status"]["phase"] == "Pending"
        assert "maxActiveRunsPerNamespace" in condition(waiting, "Submitted")["message"]
        assert len(cluster.kube.list_objects(WF_API, "Workflow", tenant.namespace)) == 3
        victim_run(cluster, victim, "v-1")  # another namespace: not counted
        wait_succeeded(cluster, victim, "v-1", 60)
        tenant.kube.apply({"apiVersion": "signals.proompteng.ai/v1alpha1",
                           "kind": "SignalDelivery", "metadata": {"name": "go-1"},
                           "spec": {"signalRef": {"name": "go"}}}, tenant.namespace)
        # The signal releases all three; each end frees a slot for the oldest waiting.
        wait_succeeded(cluster, tenant.namespace, "c-0", 60)
        wait_for(lambda: reasons()["c-3"] == "WorkflowCreated", "c-3 started", 60, 0.2)
        wait_for(lambda: all(r == "WorkflowCreated" for r in reasons().values()),
                 "every run started in turn", 120, 0.2)
