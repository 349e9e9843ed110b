"""Faults, with the controller as a real subprocess: SIGKILL mid-run and restart,
the apiserver restarted mid-run, two replicas behind one Lease, a run deleted
while no garbage collector runs, a Workflow create refused by a ResourceQuota,
and a Workflow deleted by Argo's TTL right after it ended. Each asserts exactly
one Workflow per run and the final status the contract gives.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchapi.api import Obj
from orchapi.graph import build_graph
from orchapi.models import Step
from orchapi.semantics import plan
from tests.cluster import Cluster
from tests.cluster.kube import wait_for
from tests.cluster.kwok import Failures
from tests.cluster.procs import stop_group
from tests.e2e.orch_controller import (
    API,
    CHART_LEASE,
    WF_API,
    ControllerProcess,
    condition,
    orchestration,
    run,
    run_done,
    step,
    step_table,
    wait_run,
    workflows_of,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def controllers(cluster: Cluster, tmp_path: Path) -> Iterator[list[ControllerProcess]]:
    started: list[ControllerProcess] = []
    yield started
    for proc in started:
        proc.stop()


def start(cluster: Cluster, tmp_path: Path, started: list[ControllerProcess], identity: str,
          lease: str, *extra: str) -> ControllerProcess:
    proc = ControllerProcess(cluster.kubeconfig, cluster.namespace, tmp_path, identity,
                             cluster.namespace, lease, extra=extra).start()
    started.append(proc)
    return proc.wait_ready()


def apply(cluster: Cluster, *objs: Obj) -> None:
    for obj in objs:
        cluster.kube.apply(obj, cluster.namespace)


def chain(name: str, n: int) -> Obj:
    return orchestration(name, [step(f"s{i}") for i in range(n)])


def all_done_once(cluster: Cluster, names: list[str], steps: int, timeout: float = 120) -> None:
    for name in names:
        done = wait_run(cluster, name, run_done, "finished", timeout)
        assert done["status"]["phase"] == "Succeeded", (name, done["status"])
        assert set(step_table(done).values()) == {("Succeeded", None)}
        assert len(step_table(done)) == steps
        assert len(workflows_of(cluster, name)) == 1, f"{name}: duplicate Workflows"


def test_sigkill_mid_run_then_restart_converges_without_duplicates(
        cluster: Cluster, tmp_path: Path, controllers: list[ControllerProcess]) -> None:
    first = start(cluster, tmp_path, controllers, "kill-1", "orch-e2e-kill")
    wait_for(first.is_leader, "leader", 20, 0.1)
    apply(cluster, chain("f-kill", 4))
    names = [f"f-kill-{i}" for i in range(12)]
    apply(cluster, *(run(n, "f-kill") for n in names))
    wait_for(lambda: any(workflows_of(cluster, n) for n in names), "a first Workflow", 30, 0.05)
    first.kill()  # SIGKILL: no lease release, no cleanup
    second = start(cluster, tmp_path, controllers, "kill-2", "orch-e2e-kill")
    wait_for(second.is_leader, "the restarted controller to take the Lease", 20, 0.1)
    all_done_once(cluster, names, 4)


def test_apiserver_restart_mid_run_is_survived(
        cluster: Cluster, tmp_path: Path, controllers: list[ControllerProcess]) -> None:
    proc = start(cluster, tmp_path, controllers, "api-1", "orch-e2e-api")
    wait_for(proc.is_leader, "leader", 20, 0.1)
    apply(cluster, chain("f-api", 6))
    names = [f"f-api-{i}" for i in range(6)]
    apply(cluster, *(run(n, "f-api") for n in names))
    # Mid-run: every Workflow taken up by Argo, some steps done. (Restarting before
    # Argo took a Workflow up tests Argo's recovery, whose per-item backoff grows
    # to minutes during an outage, not ours.)
    wait_for(lambda: all(((cluster.kube.get("argoproj.io/v1alpha1", "Workflow", n,
                                            cluster.namespace) or {}).get("status") or {})
                         .get("phase") == "Running" for n in names), "Argo running them", 60)
    wait_run(cluster, names[0], lambda o: (o.get("status") or {}).get("progress") not in
             (None, "0/6"), "a step done", 30)
    apiserver = next(p for p in cluster.sup.procs if p.name == "kube-apiserver")
    restarts = proc.metric("orch_watch_restarts_total")
    stop_group(apiserver.popen.pid, 5, apiserver.popen.wait)
    cluster.sup.procs.remove(apiserver)
    # Down until the controller has felt it: its watches failed (its lease renewals
    # fail meanwhile too).
    wait_for(lambda: proc.metric("orch_watch_restarts_total") > restarts,
             "the controller's watches to fail", 30, 0.05)
    cluster.sup.start("kube-apiserver", [str(a) for a in apiserver.popen.args])  # type: ignore[union-attr]
    wait_for(lambda: _answers(cluster), "the apiserver to answer again", 60, 0.2)
    try:
        all_done_once(cluster, names, 6, timeout=60)
    except AssertionError:
        pods = cluster.kube.list_objects("v1", "Pod", cluster.namespace)
        print({p["metadata"]["name"]: (p["status"].get("phase"), p["spec"].get("nodeName"))
               for p in pods if p["metadata"]["name"].startswith("f-api")})
        print({p.name: p.alive() for p in cluster.sup.procs})
        print({n: (cluster.kube.get("argoproj.io/v1alpha1", "Workflow", n, cluster.namespace)
                   or {}).get("status", {}).get("phase") for n in names})
        print(proc.tail(60))
        raise
    assert proc.popen is not None and proc.popen.poll() is None, proc.tail()
    assert proc.metric("orch_watch_restarts_total") >= 1


def _answers(cluster: Cluster) -> bool:
    try:
        cluster.kube.list_objects("v1", "Namespace")
    except Exception:
        return False
    return True


def test_two_replicas_never_both_reconcile_and_hand_over_on_sigterm(
        cluster: Cluster, tmp_path: Path, controllers: list[ControllerProcess]) -> None:
    # The chart's Lease timings: a Lease lost to a slow renewal would hand over
    # mid-test, which is not what this test is about.
    a = start(cluster, tmp_path, controllers, "rep-a", "orch-e2e-rep", *CHART_LEASE)
    b = start(cluster, tmp_path, controllers, "rep-b", "orch-e2e-rep", *CHART_LEASE)
    wait_for(lambda: a.is_leader() or b.is_leader(), "a leader", 20, 0.1)
    apply(cluster, chain("f-rep", 2))
    names = [f"f-rep-{i}" for i in range(4)]
    apply(cluster, *(run(n, "f-rep") for n in names))
    # Never two leaders while the runs are reconciled: sampled until they have all ended.
    def ended(name: str) -> bool:
        found = cluster.kube.get(API, "OrchestrationRun", name, cluster.namespace) or {}
        return run_done(found)
    give_up = time.monotonic() + 120  # bounds a failure only
    while not all(ended(n) for n in names):
        assert not (a.is_leader() and b.is_leader()), "two leaders"
        assert time.monotonic() < give_up, "the runs never ended"
        time.sleep(0.1)  # the sampling period
    all_done_once(cluster, names, 2)
    leader, follower = (a, b) if a.is_leader() else (b, a)
    assert follower.metric("controller_runtime_reconcile_total") == 0
    assert leader.metric("controller_runtime_reconcile_total") > 0
    lease = cluster.kube.get("coordination.k8s.io/v1", "Lease", "orch-e2e-rep",
                             cluster.namespace) or {}
    assert lease["spec"]["holderIdentity"] == leader.identity
    assert leader.terminate() == 0  # graceful: releases the Lease
    # Released, not left to expire: the leader wrote the release before it exited
    # (election.release logs it once the apiserver took the write).
    assert '"released the lease"' in leader.log.read_text(), leader.tail()
    wait_for(follower.is_leader, "the follower to take over", 30, 0.05)
    apply(cluster, run("f-rep-after", "f-rep"))
    all_done_once(cluster, ["f-rep-after"], 2)


def test_run_deleted_while_no_garbage_collector_runs(
        cluster: Cluster, tmp_path: Path, controllers: list[ControllerProcess]) -> None:
    proc = start(cluster, tmp_path, controllers, "gc-1", "orch-e2e-gc")
    wait_for(proc.is_leader, "leader", 20, 0.1)
    apply(cluster, chain("f-nogc", 1), run("f-nogc-1", "f-nogc"))
    wait_run(cluster, "f-nogc-1", run_done, "finished", 60)
    assert len(workflows_of(cluster, "f-nogc-1")) == 1
    kcm = next(p for p in cluster.sup.procs if p.name == "kube-controller-manager")
    os.killpg(kcm.popen.pid, signal.SIGSTOP)  # the garbage collector is frozen
    try:
        cluster.kube.delete("orchestration.proompteng.ai/v1alpha1", "OrchestrationRun",
                            "f-nogc-1", cluster.namespace)
        wait_for(lambda: not workflows_of(cluster, "f-nogc-1"),
                 "the controller to delete the orphaned Workflow", 60, 0.1)
    finally:
        os.killpg(kcm.popen.pid, signal.SIGCONT)


def test_a_workflow_create_refused_by_a_quota_is_shown_and_retried_with_backoff(
        cluster: Cluster, tmp_path: Path, controllers: list[ControllerProcess]) -> None:
    ns = "orch-e2e-quota"
    kube = cluster.kube
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    quota: Obj = {"apiVersion": "v1", "kind": "ResourceQuota",
                  "metadata": {"name": "no-workflows", "namespace": ns},
                  "spec": {"hard": {"count/workflows.argoproj.io": "0"}}}
    kube.apply(quota)
    counted = "count/workflows.argoproj.io"
    t0 = time.monotonic()
    wait_for(lambda: counted in (((kube.get("v1", "ResourceQuota", "no-workflows", ns) or {})
                                  .get("status") or {}).get("used") or {}),
             "the quota controller to count Workflows", 90, 0.2)
    print(f"quota counted after {time.monotonic() - t0:.1f}s")
    proc = ControllerProcess(cluster.kubeconfig, ns, tmp_path, "quota-1", ns,
                             "orch-e2e-quota").start()
    controllers.append(proc)
    proc.wait_ready()
    wait_for(proc.is_leader, "leader", 20, 0.1)
    kube.apply(orchestration("q", [{"name": "a", "kind": "Checkpoint"}]), ns)
    kube.apply(run("q-1", "q"), ns)

    def refused() -> Obj | None:
        obj = kube.get(API, "OrchestrationRun", "q-1", ns) or {}
        conds = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or ()}
        submitted = conds.get("Submitted") or {}
        return obj if submitted.get("reason") == "WorkflowCreateFailed" else None
    blocked = wait_for(refused, "Submitted=False WorkflowCreateFailed", 30, 0.1)
    submitted = condition(blocked, "Submitted")
    assert (blocked["status"]["phase"], submitted["status"]) == ("Pending", "False")
    assert "exceeded quota: no-workflows" in submitted["message"], submitted["message"]
    assert "403 Forbidden" in submitted["message"]
    # The Event is recorded after the status write (it names the written
    # resourceVersion), so it may land a moment after the condition is seen.
    wait_for(lambda: any(e["reason"] == "WorkflowCreateFailed" and e["type"] == "Warning"
                         and "exceeded quota" in e["message"]
                         and e["involvedObject"]["name"] == "q-1"
                         for e in kube.list_objects("v1", "Event", ns)),
             "a WorkflowCreateFailed Warning Event on q-1", 30, 0.1)
    # Retried with backoff (1 s, 2 s, 4 s, ...), not in a loop: two more refused
    # creates are awaited (an event), and in the time that took, backoff allows at
    # most log2(seconds + 1) + 1 of them. A slower machine only makes fewer; nothing
    # here asserts that anything was fast.
    def refused_creates() -> float:
        return proc.metric("rest_client_requests_total", code="403", method="POST")
    t0 = time.monotonic()  # taken first: the seconds counted are never too few
    before = refused_creates()
    wait_for(lambda: refused_creates() >= before + 2, "two more refused creates", 60, 0.1)
    tries, seconds = refused_creates() - before, time.monotonic() - t0
    assert tries <= math.log2(seconds + 1) + 1, f"{tries} refused creates in {seconds:.1f} s"
    kube.apply({**quota, "spec": {"hard": {"count/workflows.argoproj.io": "5"}}})
    done = wait_run_in(cluster, "q-1", ns, 120)  # the next try, after a backoff of seconds
    assert done["status"]["phase"] == "Succeeded"
    assert condition(done, "Submitted")["reason"] == "WorkflowCreated"
    assert len(kube.list_objects(WF_API, "Workflow", ns)) == 1


def wait_run_in(cluster: Cluster, name: str, namespace: str, timeout: float) -> Obj:
    found: Obj = wait_for(lambda: (o := cluster.kube.get(API, "OrchestrationRun", name,
                                                         namespace)) and run_done(o) and o,
                          f"run {namespace}/{name} to finish", timeout, 0.1)
    return found


#   a
#  / \
# b   c     (b fails)
#  \ /
#   d
def test_a_workflow_deleted_by_ttl_right_after_it_ended_keeps_its_result(
        cluster: Cluster, tmp_path: Path, controllers: list[ControllerProcess],
        fail_pods: Failures) -> None:
    """The controller is paused (SIGSTOP) while the Workflow ends and Argo's TTL
    deletes it, so it first hears of the end from the watch events MODIFIED and
    DELETED together, as after a busy spell: the DELETED event's last state must
    decide the run, not the absence of the Workflow."""
    ns = cluster.namespace
    proc = start(cluster, tmp_path, controllers, "ttl-1", "orch-e2e-ttl")
    wait_for(proc.is_leader, "leader", 20, 0.1)
    steps = [step("a", []), step("b", ["a"]), step("c", ["a"]), step("d", ["b", "c"])]
    fail_pods.steps("f-ttl", ["b"])
    apply(cluster, orchestration("f-ttl", steps), run("f-ttl-1", "f-ttl"))
    wait_run(cluster, "f-ttl-1", lambda o: bool(workflows_of(cluster, "f-ttl-1")),
             "its Workflow", 30)
    assert proc.popen is not None
    os.kill(proc.popen.pid, signal.SIGSTOP)
    try:
        wf = cluster.kube.resource(WF_API, "Workflow")
        wf.patch(name="f-ttl-1", namespace=ns, content_type="application/merge-patch+json",
                 body={"spec": {"ttlStrategy": {"secondsAfterCompletion": 0}}})
        wait_for(lambda: not workflows_of(cluster, "f-ttl-1"),
                 "Argo's TTL to delete the ended Workflow", 90, 0.2)
    finally:
        os.kill(proc.popen.pid, signal.SIGCONT)
    done = wait_run(cluster, "f-ttl-1", run_done, "finished", 30)
    expected = plan(build_graph([Step.model_validate(s) for s in steps]), failed={"b"})
    assert step_table(done) == {s.name: (str(s.phase), str(s.reason) if s.reason else None)
                                for s in expected.steps}
    assert step_table(done) == {"a": ("Succeeded", None), "b": ("Failed", "StepFailed"),
                                "c": ("Succeeded", None), "d": ("Skipped", "DependencyFailed")}
    assert done["status"]["phase"] == "Failed"
    assert condition(done, "Succeeded")["reason"] == "StepsFailed"  # not WorkflowEnded
    assert condition(done, "Submitted")["reason"] == "WorkflowCreated"
