"""Cancel and resume (contract §3) meeting the step kinds of issue 11, on the real
Argo: waits (ApprovalGate, SignalWait: suspend nodes the controller sets), a
ToolRun (a container built from a Tool read at submission) and a SubOrchestration
child run. The two features were built apart; these are their interactions:

- a cancel while the only running nodes are suspend nodes: Argo's `spec.shutdown:
  Stop` fails them itself (operator.go failNodesWithoutCreatedPodsAfterDeadlineOrShutdown,
  v4.0.5 l.1338) and the Workflow ends; the controller writes no node after the
  cancel (an approval or a timeout falling due later changes nothing);
- a resume of a run whose gate was denied and whose signal timed out: both wait
  again (new suspend nodes), their dependents rerun, the ToolRun before them is
  reused without its Tool (deleted meanwhile), a failed ToolRun reruns and needs it;
- a parent's cancel reaching a child run that waits on a signal, and `orch resume`
  of such a child keeping its depth in the chain.

kwok runs no container: a ToolRun's pod succeeds, or is held Running or failed by
a kwok stage; the child run a SubOrchestration step would create is created here
from its executor pod's manifest, as argoexec would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.argo_messages import STOPPED_WITH_STRATEGY, WAIT_TIMED_OUT
from orchapi.api import APPROVALS_API_VERSION, DEPTH_ANNOTATION, TOOLS_API_VERSION, Obj
from orchapi.argo import ARGO_API_VERSION
from tests.cluster import Cluster
from tests.cluster.cluster import TOOL_CRD
from tests.cluster.kwok import Failures
from tests.e2e.orch_cli import orch
from tests.e2e.orch_controller import (
    API,
    ControllerProcess,
    apply,
    condition,
    execute_resource_step,
    leading_controller,
    orchestration,
    run,
    run_done,
    step_table,
    wait_run,
    workflows_of,
)
from tests.support.argo import SHARED_ABSENT

pytestmark = pytest.mark.e2e
TOOLS_API = TOOLS_API_VERSION
APPROVALS_API = APPROVALS_API_VERSION
WF_API = ARGO_API_VERSION


@pytest.fixture(scope="module")
def controller(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[ControllerProcess]:
    if TOOL_CRD not in cluster.crds:
        pytest.skip(f"the reference system's CRDs are not installed: {SHARED_ABSENT}")
    with leading_controller(cluster, tmp_path_factory.mktemp("cancel-kinds"),
                            "cancel-kinds") as proc:
        yield proc


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:5]}"


def tool(name: str) -> Obj:
    return {"apiVersion": TOOLS_API, "kind": "Tool", "metadata": {"name": name},
            "spec": {"image": "alpine:3.20", "command": ["/bin/sh", "-c"], "args": ["true"]}}


def policy(cluster: Cluster, name: str, phase: str) -> None:
    """Create the ApprovalPolicy (if needed) and write its status phase, as the
    reference system's approvals controller would."""
    from kubernetes import client

    group, version = APPROVALS_API.split("/")
    ns = cluster.namespace
    cluster.kube.apply({"apiVersion": APPROVALS_API, "kind": "ApprovalPolicy",
                        "metadata": {"name": name}, "spec": {"mode": "manual"}}, ns)
    api = client.CustomObjectsApi(cluster.api_client)
    obj = api.get_namespaced_custom_object(group, version, ns, "approvalpolicies", name)
    assert isinstance(obj, dict)
    obj["status"] = {"phase": phase}
    api.replace_namespaced_custom_object_status(group, version, ns, "approvalpolicies",
                                                name, obj)


def waiting(*names: str) -> Any:
    return lambda o: all(step_table(o).get(n, ("",))[0] == "Running" for n in names)


def message(obj: Obj, name: str) -> str:
    return str(next(s for s in obj["status"]["stepStatuses"] if s["name"] == name)
               .get("message") or "")


def nodes_by_step(wf: Obj) -> dict[str, Obj]:
    return {n["displayName"]: n for n in (wf.get("status") or {}).get("nodes", {}).values()}


def tool_pods(cluster: Cluster, run_name: str) -> list[Obj]:
    return cluster.kube.list_objects(
        "v1", "Pod", cluster.namespace,
        f"orchestration.proompteng.ai/run={run_name},orchestration.proompteng.ai/step=tool")


# The signal's timeout: it times out the first run and the probe, and the resumed
# run is cancelled before it (after `orch resume`, `orch get` and `orch cancel`, each
# a process start; Argo's startedAt is whole seconds): 3 s was too short under load.
SIGNAL_TIMEOUT = 10


def test_waits_denied_and_timed_out_resume_waiting_again_then_a_cancel_ends_them(
        cluster: Cluster, controller: ControllerProcess, tmp_path: Path) -> None:
    #  tool (ToolRun) -> gate (ApprovalGate) -> after-gate
    #                 -> sig (SignalWait, SIGNAL_TIMEOUT) -> after-sig
    name = unique("cw")
    pol, signal = f"{name}-policy", f"{name}-signal"
    policy(cluster, pol, "denied")
    steps: list[Obj] = [
        {"name": "tool", "kind": "ToolRun", "toolRef": {"name": name}, "dependsOn": []},
        {"name": "gate", "kind": "ApprovalGate", "policyRef": pol, "dependsOn": ["tool"]},
        {"name": "sig", "kind": "SignalWait", "signalRef": {"name": signal},
         "timeoutSeconds": SIGNAL_TIMEOUT, "dependsOn": ["tool"]},
        {"name": "after-gate", "kind": "Checkpoint", "dependsOn": ["gate"]},
        {"name": "after-sig", "kind": "Checkpoint", "dependsOn": ["sig"]}]
    first = f"{name}-1"
    apply(cluster, tool(name), orchestration(name, steps), run(first, name))
    old = wait_run(cluster, first, run_done, "denied and timed out", 60)
    assert step_table(old) == {
        "tool": ("Succeeded", None), "gate": ("Failed", "StepFailed"),
        "sig": ("Failed", "StepTimedOut"), "after-gate": ("Skipped", "DependencyFailed"),
        "after-sig": ("Skipped", "DependencyFailed")}

    # The Tool goes; the policy is pending again. The resumed run reuses the ToolRun
    # (no Tool needed, no pod) and waits again at both waits.
    cluster.kube.delete(TOOLS_API, "Tool", name, cluster.namespace)
    policy(cluster, pol, "pending")
    resumed = orch(cluster, "resume", first)
    assert resumed.returncode == 0, resumed.stderr
    second = resumed.stdout.strip()
    found = wait_run(cluster, second, waiting("gate", "sig"), "waiting again", 60)
    assert step_table(found)["tool"] == ("Succeeded", "Reused")
    assert step_table(found)["after-gate"][0] == step_table(found)["after-sig"][0] == "Pending"
    assert message(found, "gate") == f"Waiting for approval of {pol}"
    assert tool_pods(cluster, second) == []
    (wf,) = workflows_of(cluster, second)
    assert {n["phase"] for s, n in nodes_by_step(wf).items() if s in ("gate", "sig")} == {
        "Running"}
    got = orch(cluster, "get", second, "-o", "wide")
    assert got.returncode == 0 and f"Waiting for approval of {pol}" in got.stdout, got.stdout

    # Cancel while only suspend nodes run: the Workflow ends (Argo fails them).
    assert orch(cluster, "cancel", second).returncode == 0
    done = wait_run(cluster, second, run_done, "cancelled", 30)
    assert done["status"]["phase"] == "Cancelled"
    ended = cluster.wait_for_workflow(wf["metadata"]["name"])
    assert ended["status"]["phase"] == "Failed"
    stopped = nodes_by_step(ended)
    for wait in ("gate", "sig"):
        assert stopped[wait]["phase"] == "Failed"
        assert stopped[wait]["message"].startswith(STOPPED_WITH_STRATEGY), stopped[wait]
    # The policy approves and the signal's timeout falls due after the cancel: the
    # controller writes no node of the stopped Workflow (Argo's stop message stays).
    # Until when to look is a probe's to say: a run waiting on the same policy and
    # signal, started after the cancel. Its gate released, the controller has handled
    # the approval (one event wakes every run waiting on the policy); its signal
    # timed out, it has handled every wait deadline due before (the stopped run's
    # came first).
    probe = f"{name}-probe"
    apply(cluster, orchestration(probe, [
        {"name": "gate", "kind": "ApprovalGate", "policyRef": pol, "dependsOn": []},
        {"name": "sig", "kind": "SignalWait", "signalRef": {"name": signal},
         "timeoutSeconds": SIGNAL_TIMEOUT, "dependsOn": []}]), run(probe, probe))
    wait_run(cluster, probe, waiting("gate", "sig"), "the probe waiting", 60)
    policy(cluster, pol, "approved")
    probed = wait_run(cluster, probe, run_done, "the probe released and timed out", 60)
    assert step_table(probed) == {"gate": ("Succeeded", None),
                                  "sig": ("Failed", "StepTimedOut")}
    later = cluster.kube.get(WF_API, "Workflow", wf["metadata"]["name"], cluster.namespace)
    assert later is not None
    assert nodes_by_step(later)["gate"]["message"] == stopped["gate"]["message"]
    assert WAIT_TIMED_OUT not in nodes_by_step(later)["sig"]["message"]
    final = cluster.kube.get(API, "OrchestrationRun", second, cluster.namespace)
    assert final is not None and step_table(final) == {
        "tool": ("Succeeded", "Reused"), "gate": ("Failed", "Cancelled"),
        "sig": ("Failed", "Cancelled"), "after-gate": ("Skipped", "Cancelled"),
        "after-sig": ("Skipped", "Cancelled")}
    shown = orch(cluster, "get", second)
    assert shown.returncode == 0
    rows = {line.split()[1]: line for line in shown.stdout.splitlines()
            if len(line.split()) > 2 and line.split()[1] in ("gate", "after-gate")}
    assert "Failed" in rows["gate"] and "Cancelled" in rows["gate"], shown.stdout
    assert "Skipped" in rows["after-gate"] and "Cancelled" in rows["after-gate"]


def test_cancel_while_a_toolrun_runs_then_its_resume_needs_the_tool(
        cluster: Cluster, controller: ControllerProcess, fail_pods: Failures) -> None:
    name = unique("ct")
    fail_pods.hold_steps(name, ["tool"])
    first = f"{name}-1"
    apply(cluster, tool(name), orchestration(name, [
        {"name": "tool", "kind": "ToolRun", "toolRef": {"name": name}, "dependsOn": []},
        {"name": "after", "kind": "Checkpoint", "dependsOn": ["tool"]}]), run(first, name))
    wait_run(cluster, first, waiting("tool"), "the tool's pod running", 60)
    assert orch(cluster, "cancel", first).returncode == 0
    done = wait_run(cluster, first, run_done, "cancelled", 30)
    assert (done["status"]["phase"], step_table(done)) == ("Cancelled", {
        "tool": ("Failed", "Cancelled"), "after": ("Skipped", "Cancelled")})
    (wf,) = workflows_of(cluster, first)
    assert cluster.wait_for_workflow(wf["metadata"]["name"])["status"]["phase"] == "Failed"

    # The ToolRun did not succeed, so it reruns: its Tool is read again, and is gone.
    cluster.kube.delete(TOOLS_API, "Tool", name, cluster.namespace)
    resumed = orch(cluster, "resume", first)
    assert resumed.returncode == 0, resumed.stderr
    second = resumed.stdout.strip()
    refused = wait_run(cluster, second, run_done, "refused", 30)
    submitted = condition(refused, "Submitted")
    assert (refused["status"]["phase"], submitted["status"], submitted["reason"]) == (
        "Failed", "False", "ToolNotFound")
    assert workflows_of(cluster, second) == []


def test_a_parents_cancel_reaches_a_child_waiting_on_a_signal_whose_resume_keeps_its_depth(
        cluster: Cluster, controller: ControllerProcess, fail_pods: Failures) -> None:
    parent, kid = unique("cp"), unique("ck")
    fail_pods.hold_steps(parent, ["child"])
    apply(cluster, orchestration(kid, [
        {"name": "sig", "kind": "SignalWait", "signalRef": {"name": f"{kid}-signal"},
         "dependsOn": []}]),
          orchestration(parent, [{"name": "child", "kind": "SubOrchestration",
                                  "orchestrationRef": {"name": kid}, "dependsOn": []}]),
          run(parent, parent))
    child = execute_resource_step(cluster, cluster.namespace, parent, "child")
    child_name = child["metadata"]["name"]
    assert child["metadata"]["annotations"][DEPTH_ANNOTATION] == "1"
    wait_run(cluster, child_name, waiting("sig"), "the child waits", 60)
    assert orch(cluster, "cancel", parent).returncode == 0
    assert wait_run(cluster, parent, run_done, "cancelled", 30)["status"]["phase"] == "Cancelled"
    kid_done = wait_run(cluster, child_name, run_done, "the child cancelled", 30)
    assert (kid_done["spec"].get("cancel"), kid_done["status"]["phase"],
            step_table(kid_done)) == (True, "Cancelled", {"sig": ("Failed", "Cancelled")})

    # The child resumed by a person is still where it was in the chain of runs.
    resumed = orch(cluster, "resume", child_name)
    assert resumed.returncode == 0, resumed.stderr
    again = resumed.stdout.strip()
    obj = cluster.kube.get(API, "OrchestrationRun", again, cluster.namespace)
    assert obj is not None
    assert (obj["metadata"].get("annotations") or {}).get(DEPTH_ANNOTATION) == "1"
    wait_run(cluster, again, waiting("sig"), "the resumed child waits again", 60)
    assert orch(cluster, "cancel", again).returncode == 0
    assert wait_run(cluster, again, run_done, "cancelled", 30)["status"]["phase"] == "Cancelled"


def test_a_wait_decided_before_a_stop_is_not_released_once_the_workflow_is_stopped(
        cluster: Cluster) -> None:
    """The executor's half of "no node write after the stop": a release decided from
    a Workflow the cache showed running, carried out after someone stopped it (`argo
    stop`, or a stop the cache had not shown yet), writes nothing. Argo's own
    controller must not fail the node first, so this Workflow carries another
    controller instance's label (Argo without an instanceID lists Workflows
    `!workflows.argoproj.io/controller-instanceid`: util/instanceid/service.go,
    v4.0.5 l.44) and its status is written here as Argo writes a waiting gate."""
    import copy

    from controller.kube import Kube
    from controller.metrics import Metrics
    from controller.release import release
    from controller.waits import Release, workflow_waits
    from orchapi.api import WORKFLOWS
    from tests.unit.controller.test_decide_waits import waiting as waiting_workflow

    body = waiting_workflow()
    meta = body["metadata"]
    for key in ("uid", "ownerReferences", "resourceVersion"):
        meta.pop(key, None)
    meta.update(name=unique("stopped"), namespace=cluster.namespace)
    meta.setdefault("labels", {})["workflows.argoproj.io/controller-instanceid"] = "elsewhere"
    kube = Kube(cluster.api_client, Metrics())
    created = kube.create(WORKFLOWS, cluster.namespace, body)
    (gate, *_) = [w for w in workflow_waits(created) if w.step == "gate"]
    stale = copy.deepcopy(created)
    stopped = kube.replace(WORKFLOWS, cluster.namespace, meta["name"],
                           {**created, "spec": {**created["spec"], "shutdown": "Stop"}})
    assert release(kube, stale, [Release(gate.node_id, "gate", "Succeeded",
                                         "approval policy deploy is approved")]) is None
    live = kube.get(WORKFLOWS, cluster.namespace, meta["name"])
    assert live is not None
    assert live["metadata"]["resourceVersion"] == stopped["metadata"]["resourceVersion"]
    assert live["status"]["nodes"][gate.node_id]["phase"] == "Running"
    cluster.kube.delete(WF_API, "Workflow", meta["name"], cluster.namespace)
