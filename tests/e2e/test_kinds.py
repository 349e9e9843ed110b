"""Step kinds that do real work, end to end (issue 11): the real apiserver, Argo and
kwok, the reference system's CRDs (Tool, ApprovalPolicy, SignalDelivery), and the
controller as a subprocess with only the chart's RBAC (so every test here also
checks that the chart grants what these kinds need).

- ToolRun: the Tool's container, its placeholders rendered byte for byte (hostile
  parameters included), or `ToolNotFound` at submission;
- SignalWait and ApprovalGate: suspend nodes, no pod while they wait, released by
  the controller when a matching delivery or an approving phase appears, failed on
  a denying phase or at timeoutSeconds (`StepTimedOut`), released by `argo resume`;
- SubOrchestration: a chain past maxSubOrchestrationDepth refused at the last
  child; a self-calling Orchestration refused.

Under kwok nothing executes: the child runs a SubOrchestration step would create
are created here from the manifest Argo handed its executor pod (`ARGO_TEMPLATE`),
as the executor would.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.argo_messages import WAIT_TIMED_OUT
from orchapi.api import (
    APPROVALS_API_VERSION,
    DEPTH_ANNOTATION,
    SIGNALS_API_VERSION,
    TOOLS_API_VERSION,
    Obj,
)
from tests.cluster import Cluster
from tests.cluster.cluster import TOOL_CRD
from tests.cluster.kube import wait_for
from tests.e2e.orch_controller import (
    API,
    ControllerProcess,
    apply,
    condition,
    leading_controller,
    orchestration,
    resource_manifest,
    run,
    run_done,
    step_table,
    wait_run,
)
from tests.support.argo import SHARED, SHARED_ABSENT
from tests.unit.compiler.test_literals import k8s_expand

pytestmark = pytest.mark.e2e

JANGAR_EXAMPLES = SHARED / "reference" / "jangar" / "charts" / "agents" / "examples"
TOOLS_API = TOOLS_API_VERSION
APPROVALS_API = APPROVALS_API_VERSION
SIGNALS_API = SIGNALS_API_VERSION
MAX_DEPTH = 2  # the controller's ORCH_MAX_SUBORCHESTRATION_DEPTH here (default 8)


@pytest.fixture(scope="module")
def controller(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[ControllerProcess]:
    if TOOL_CRD not in cluster.crds:
        pytest.skip(f"the reference system's CRDs are not installed: {SHARED_ABSENT}")
    depth = {"ORCH_MAX_SUBORCHESTRATION_DEPTH": str(MAX_DEPTH)}
    with leading_controller(cluster, tmp_path_factory.mktemp("kinds"), "kinds",
                            env=depth) as proc:
        yield proc


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:5]}"


def pods_of(cluster: Cluster, run_name: str, step: str | None = None) -> list[Obj]:
    selector = f"orchestration.proompteng.ai/run={run_name}"
    if step is not None:
        selector += f",orchestration.proompteng.ai/step={step}"
    return cluster.kube.list_objects("v1", "Pod", cluster.namespace, selector)


def step_status(obj: Obj, name: str) -> Obj:
    return next(s for s in obj["status"]["stepStatuses"] if s["name"] == name)


def waiting(name: str) -> Any:
    def check(obj: Obj) -> bool:
        steps = (obj.get("status") or {}).get("stepStatuses") or []
        return any(s["name"] == name and s["phase"] == "Running" for s in steps)
    return check


def set_status(cluster: Cluster, api_version: str, plural: str, name: str, status: Obj) -> None:
    """Write an object's status subresource (as the reference system's controllers do)."""
    from kubernetes import client

    group, version = api_version.split("/")
    api = client.CustomObjectsApi(cluster.api_client)
    obj = api.get_namespaced_custom_object(group, version, cluster.namespace, plural, name)
    assert isinstance(obj, dict)
    obj["status"] = status
    api.replace_namespaced_custom_object_status(group, version, cluster.namespace, plural,
                                                name, obj)


# -- ToolRun ------------------------------------------------------------------------------
HOSTILE = {
    "message": "it's \"quoted\" $(HOME) $$(x) ${HOME} `id` {{workflow.name}} {{=1+1}}\n\x85",
    "empty": "",
}


@pytest.mark.skipif(not JANGAR_EXAMPLES.exists(), reason=SHARED_ABSENT)
def test_a_toolrun_runs_the_reference_tool_with_its_parameters_byte_for_byte(
        cluster: Cluster, controller: ControllerProcess) -> None:
    tool = yaml.safe_load((JANGAR_EXAMPLES / "tool-sample.yaml").read_text())
    tool["spec"]["args"] += ["[{{ parameters.empty }}]", "{{parameters.message}}"]
    name = unique("tool")
    apply(cluster, tool, orchestration(name, [
        {"name": "notify", "kind": "ToolRun", "toolRef": {"name": tool["metadata"]["name"]},
         "with": {"message": HOSTILE["message"]}}]),
          run(name, name, **HOSTILE))
    done = wait_run(cluster, name, run_done, "finished", 90)
    assert step_table(done) == {"notify": ("Succeeded", None)}
    (pod,) = pods_of(cluster, name, "notify")
    (main,) = [c for c in pod["spec"]["containers"] if c["name"] == "main"]
    env: dict[str, str] = {}
    for e in main.get("env") or []:
        env[e["name"]] = k8s_expand(e.get("value", ""), lambda n: env.get(n, f"$({n})"))
    argv = main["command"] + (main.get("args") or [])
    argv = [k8s_expand(a, lambda n: env.get(n, f"$({n})")) for a in argv[argv.index("--") + 1:]]
    assert argv == ["/bin/sh", "-c", f"echo {HOSTILE['message']}", "[]", HOSTILE["message"]]
    assert pod["spec"].get("automountServiceAccountToken") is False  # the Tool names no account


def test_a_missing_tool_fails_the_run_at_submission(
        cluster: Cluster, controller: ControllerProcess) -> None:
    name = unique("no-tool")
    apply(cluster, orchestration(name, [
        {"name": "t", "kind": "ToolRun", "toolRef": {"name": "no-such-tool"}}]), run(name, name))
    done = wait_run(cluster, name, run_done, "refused", 30)
    submitted = condition(done, "Submitted")
    assert (done["status"]["phase"], submitted["status"], submitted["reason"]) == (
        "Failed", "False", "ToolNotFound")
    assert '"no-such-tool"' in submitted["message"]
    assert not done["status"].get("workflowRef")


# -- SignalWait ----------------------------------------------------------------------------
def signal_wait(name: str, signal: str, delivery: str | None, timeout: int | None = None
                ) -> Obj:
    step: Obj = {"name": name, "kind": "SignalWait", "signalRef": {"name": signal}}
    if delivery is not None:
        step["deliveryId"] = delivery
    if timeout is not None:
        step["timeoutSeconds"] = timeout
    return step


def delivery(name: str, signal: str, delivery_id: str | None) -> Obj:
    spec: Obj = {"signalRef": {"name": signal}, "payload": {"ok": True}}
    if delivery_id is not None:
        spec["deliveryId"] = delivery_id
    return {"apiVersion": SIGNALS_API, "kind": "SignalDelivery", "metadata": {"name": name},
            "spec": spec}


def test_signal_waits(cluster: Cluster, controller: ControllerProcess) -> None:
    """Three runs at once: one released by a delivery that comes late, after its
    step started and after a delivery for another signal and one for another
    deliveryId were handled without releasing it (each released a probe run of its
    own: then the controller had seen it); one whose delivery never comes fails at
    its timeoutSeconds; no pod exists for a waiting step."""
    late, never = unique("sig-late"), unique("sig-never")
    signal, other = unique("signal"), unique("other")
    by_signal, by_id = unique("sig-probe-signal"), unique("sig-probe-id")
    apply(cluster,
          orchestration(late, [signal_wait("wait", signal, "id-1"),
                               {"name": "after", "kind": "Checkpoint"}]),
          orchestration(never, [signal_wait("wait", signal, "id-never", timeout=4)]),
          orchestration(by_signal, [signal_wait("wait", other, "id-1")]),
          orchestration(by_id, [signal_wait("wait", signal, "id-2")]),
          run(late, late), run(never, never), run(by_signal, by_signal), run(by_id, by_id))
    started = wait_run(cluster, late, waiting("wait"), "waiting", 30)
    assert step_status(started, "wait")["message"] == f"Waiting for signal {signal}"
    assert pods_of(cluster, late, "wait") == [] and pods_of(cluster, never) == []
    for probe in (by_signal, by_id):
        wait_run(cluster, probe, waiting("wait"), "the probe waiting", 30)
    apply(cluster, delivery(unique("d-other-signal"), other, "id-1"),
          delivery(unique("d-other-id"), signal, "id-2"))
    for probe in (by_signal, by_id):
        assert step_table(wait_run(cluster, probe, run_done, "the probe released", 30)) == {
            "wait": ("Succeeded", None)}
    still = cluster.kube.get(API, "OrchestrationRun", late, cluster.namespace)
    assert still is not None and waiting("wait")(still)  # neither released it
    match = unique("d-match")
    apply(cluster, delivery(match, signal, "id-1"))
    done = wait_run(cluster, late, run_done, "released", 30)
    assert step_table(done) == {"wait": ("Succeeded", None), "after": ("Succeeded", None)}
    # released by the match, not by either delivery that came before it
    assert f"SignalDelivery {match}" in step_status(done, "wait")["message"]
    timed_out = wait_run(cluster, never, run_done, "timed out", 30)
    assert step_table(timed_out) == {"wait": ("Failed", "StepTimedOut")}
    assert WAIT_TIMED_OUT in step_status(timed_out, "wait")["message"]
    timing = step_status(timed_out, "wait")
    started_at = time.strptime(timing["startedAt"], "%Y-%m-%dT%H:%M:%SZ")
    finished_at = time.strptime(timing["finishedAt"], "%Y-%m-%dT%H:%M:%SZ")
    # never before its timeout (how soon after it is the waits' unit tests' question:
    # tests/unit/controller/test_waits.py, on given times)
    assert time.mktime(finished_at) - time.mktime(started_at) >= 4


# -- ApprovalGate -----------------------------------------------------------------------------
APPROVING = ["approved", "Allowed", "READY", "sUcCeEdEd"]
DENYING = ["Denied", "rejected", "BLOCKED", "fAiLeD"]


def policy(name: str) -> Obj:
    return {"apiVersion": APPROVALS_API, "kind": "ApprovalPolicy", "metadata": {"name": name},
            "spec": {"mode": "manual"}}


def test_approval_gates_follow_the_policy_phase_in_any_case(
        cluster: Cluster, controller: ControllerProcess) -> None:
    phases = APPROVING + DENYING
    names = {phase: unique(f"gate-{phase.lower()}") for phase in phases}
    for name in names.values():
        apply(cluster, policy(name), orchestration(name, [
            {"name": "gate", "kind": "ApprovalGate", "policyRef": name}]), run(name, name))
    for name in names.values():
        found = wait_run(cluster, name, waiting("gate"), "waiting", 30)
        assert step_status(found, "gate")["message"] == f"Waiting for approval of {name}"
        assert pods_of(cluster, name) == []  # no pod while it waits
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: set_status(cluster, APPROVALS_API, "approvalpolicies",
                                              item[1], {"phase": item[0]}), names.items()))
    for phase, name in names.items():
        done = wait_run(cluster, name, run_done, f"decided ({phase})", 30)
        gate = step_status(done, "gate")
        if phase in APPROVING:
            assert (gate["phase"], done["status"]["phase"]) == ("Succeeded", "Succeeded")
        else:
            assert (gate["phase"], gate["reason"]) == ("Failed", "StepFailed")
            assert f"approval policy {name} is {phase.lower()}" in gate["message"]


def test_argo_resume_releases_a_gate(cluster: Cluster, controller: ControllerProcess) -> None:
    name = unique("gate-resume")
    apply(cluster, policy(name), orchestration(name, [
        {"name": "gate", "kind": "ApprovalGate", "policyRef": name, "timeoutSeconds": 3600}]),
          run(name, name))
    found = wait_run(cluster, name, waiting("gate"), "waiting", 30)
    workflow = found["status"]["workflowRef"]["name"]
    result = subprocess.run(
        [str(cluster.bin_dir / "argo"), "-n", cluster.namespace, "resume", workflow,
         "--node-field-selector", "displayName=gate"], capture_output=True, text=True,
        timeout=60, env={**cluster.env(), "PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert result.returncode == 0, result.stderr
    done = wait_run(cluster, name, run_done, "resumed", 30)
    assert step_table(done) == {"gate": ("Succeeded", None)}


# -- SubOrchestration --------------------------------------------------------------------------
def child_manifest(cluster: Cluster, run_name: str) -> Obj:
    """The child run the SubOrchestration step's executor would create: Argo's final
    manifest, from the executor pod's ARGO_TEMPLATE."""
    def found() -> Obj | None:
        return resource_manifest(pods_of(cluster, run_name, "child"))
    manifest: Obj = wait_for(found, f"{run_name}: the child's manifest", 30, 0.2)
    return manifest


def test_a_chain_past_the_depth_limit_is_refused_at_the_last_child(
        cluster: Cluster, controller: ControllerProcess) -> None:
    """o0 -> o1 -> ... -> o(MAX+1): the run of o(k) is at depth k; each child is
    created from its parent's executor manifest, so the depth it carries is the one
    the compiled resource template wrote."""
    base = unique("chain")
    names = [f"{base}-{k}" for k in range(MAX_DEPTH + 2)]
    for here, there in pairwise(names):
        apply(cluster, orchestration(here, [
            {"name": "child", "kind": "SubOrchestration", "orchestrationRef": {"name": there}}]))
    apply(cluster, orchestration(names[-1], [{"name": "end", "kind": "Checkpoint"}]),
          run(names[0], names[0]))
    current = names[0]
    for depth in range(1, MAX_DEPTH + 2):
        manifest = child_manifest(cluster, current)
        assert manifest["metadata"]["annotations"][DEPTH_ANNOTATION] == str(depth)
        assert manifest["spec"]["orchestrationRef"]["name"] == names[depth]
        (created,) = apply(cluster, manifest)
        current = created["metadata"]["name"]
        if depth <= MAX_DEPTH:
            wait_run(cluster, current, lambda o: bool((o.get("status") or {}).get(
                "workflowRef")), f"depth {depth} submitted", 60)
    refused = wait_run(cluster, current, run_done, "refused", 30)
    submitted = condition(refused, "Submitted")
    assert (refused["status"]["phase"], submitted["reason"]) == (
        "Failed", "SubOrchestrationTooDeep")
    assert f"depth {MAX_DEPTH + 1}" in submitted["message"]
    assert not refused["status"].get("workflowRef")


def test_a_self_calling_orchestration_is_refused(
        cluster: Cluster, controller: ControllerProcess, tmp_path: Any) -> None:
    name = unique("selfie")
    doc = orchestration(name, [{"name": "again", "kind": "SubOrchestration",
                                "orchestrationRef": {"name": name}}])
    path = tmp_path / "selfie.yaml"
    path.write_text(yaml.safe_dump(doc))
    orch = str(Path(sys.executable).with_name("orch"))
    validate = subprocess.run([orch, "validate", str(path)], capture_output=True, text=True,
                              timeout=60)
    assert validate.returncode == 1 and "[SubOrchestrationCycle]" in validate.stderr
    apply(cluster, doc, run(name, name))
    refused = wait_run(cluster, name, run_done, "refused", 30)
    submitted = condition(refused, "Submitted")
    assert (refused["status"]["phase"], submitted["reason"]) == (
        "Failed", "SubOrchestrationCycle")
    assert f"{name} -> {name}" in submitted["message"]
