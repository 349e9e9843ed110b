"""Argo's cluster-wide defaults change no step (issue 20 item 5b, contract §4), on
the real Argo with its workflow-controller ConfigMap set: a default
activeDeadlineSeconds, a default template timeout and a default retryStrategy.

The compiled Workflow pins the deadline and the step templates' timeouts; the
controller reads the ConfigMap (with the Role the chart grants) and pins the
retryStrategy at submission. Without them a step running longer than the default
timeout would fail, the run would end at the default deadline, a failing step
would run three times and the whole run again (Argo retries the entry DAG too).
The ConfigMap is restored after the test, and Argo seen to run without it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client

from orchapi.api import APPROVALS_API_VERSION, Obj
from tests.cluster import Cluster
from tests.cluster.argo import CONFIGMAP, CONTROLLER_NAMESPACE, WF_API, wait_for_workflow
from tests.cluster.kwok import Failures
from tests.e2e.orch_controller import (
    ControllerProcess,
    apply,
    condition,
    leading_controller,
    orchestration,
    run,
    run_done,
    step,
    step_table,
    wait_run,
    workflows_of,
)

pytestmark = pytest.mark.e2e
DEFAULTS = {"spec": {"activeDeadlineSeconds": 6,
                     "templateDefaults": {"timeout": "4s", "retryStrategy": {"limit": 2}}}}
POLICY_CRD = "approvalpolicies.approvals.proompteng.ai"
APPROVALS_API = APPROVALS_API_VERSION


def _probe(cluster: Cluster, failures: Failures) -> Obj:
    """A bare Workflow (not orch's) with one failing step: Argo's defaults show on it."""
    name = f"defaults-probe-{uuid.uuid4().hex[:5]}"
    failures.argo_tasks(name, ["fail"])
    cluster.kube.create({
        "apiVersion": WF_API, "kind": "Workflow",
        "metadata": {"name": name, "namespace": cluster.namespace},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "dag": {"tasks": [{"name": "fail", "template": "c"}]}},
            {"name": "c", "container": {"image": "alpine:3.20", "command": ["false"]}}]}})
    return wait_for_workflow(cluster.kube, name, cluster.namespace, 90)


def _retried(workflow: Obj) -> bool:
    """Argo applied a default retryStrategy: the Workflow's root node is a Retry node."""
    return bool(workflow["status"]["nodes"][workflow["metadata"]["name"]]["type"] == "Retry")


def _set_defaults(cluster: Cluster, defaults: dict[str, Any] | None) -> None:
    client.CoreV1Api(cluster.api_client).patch_namespaced_config_map(
        CONFIGMAP, CONTROLLER_NAMESPACE,
        {"data": {"workflowDefaults": yaml.safe_dump(defaults) if defaults else None}})


def _until_argo_sees(cluster: Cluster, failures: Failures, retried: bool) -> None:
    deadline = time.monotonic() + 120
    while _retried(_probe(cluster, failures)) is not retried:
        assert time.monotonic() < deadline, "Argo never read its ConfigMap again"


@pytest.fixture(scope="module")
def defaults(cluster: Cluster) -> Iterator[None]:
    failures = cluster.failures()
    try:
        _set_defaults(cluster, DEFAULTS)
        _until_argo_sees(cluster, failures, retried=True)
        yield
    finally:
        _set_defaults(cluster, None)
        _until_argo_sees(cluster, failures, retried=False)  # other tests see no defaults
        failures.clear()


@pytest.fixture(scope="module")
def controller(cluster: Cluster, defaults: None, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[ControllerProcess]:
    with leading_controller(cluster, tmp_path_factory.mktemp("defaults"), "defaults") as proc:
        yield proc


def test_the_cluster_s_argo_defaults_change_no_step(
        cluster: Cluster, controller: ControllerProcess, fail_pods: Failures) -> None:
    #  quick -> slow     slow runs 10 s: past the default timeout (4 s) and deadline (6 s)
    #  flaky*            fails once: a default retryStrategy would run it three times
    #  quick -> gate     a wait (the reference's CRDs only), approved while slow runs
    name = "defaults-run"
    steps = [step("quick", []), step("slow", ["quick"]),
             step("flaky", [], continueOnFailure=True)]
    expected = {"quick": ("Succeeded", None), "slow": ("Succeeded", None),
                "flaky": ("Failed", "FailureIgnored")}
    gate = POLICY_CRD in cluster.crds
    if gate:
        apply(cluster, {"apiVersion": APPROVALS_API, "kind": "ApprovalPolicy",
                        "metadata": {"name": "defaults-policy"}, "spec": {"mode": "manual"}})
        steps.append({"name": "gate", "kind": "ApprovalGate", "policyRef": "defaults-policy",
                      "dependsOn": ["quick"]})
        expected["gate"] = ("Succeeded", None)
    fail_pods.hold_steps(name, ["slow"])
    fail_pods.steps(name, ["flaky"])
    apply(cluster, orchestration(name, steps), run(name, name))
    started = time.monotonic()
    wait_run(cluster, name, lambda o: step_table(o).get("slow", ("",))[0] == "Running",
             "slow running", 60)
    if gate:
        wait_run(cluster, name, lambda o: step_table(o).get("gate", ("",))[0] == "Running",
                 "the gate waiting", 60)
        api = client.CustomObjectsApi(cluster.api_client)
        policy: Any = api.get_namespaced_custom_object(
            "approvals.proompteng.ai", "v1alpha1", cluster.namespace, "approvalpolicies",
            "defaults-policy")
        policy["status"] = {"phase": "Approved"}
        api.replace_namespaced_custom_object_status(
            "approvals.proompteng.ai", "v1alpha1", cluster.namespace, "approvalpolicies",
            "defaults-policy", policy)
    # Past the default timeout and deadline, slow still runs; then it ends.
    time.sleep(max(0.0, 10 - (time.monotonic() - started)))
    assert step_table(cluster.kube.get("orchestration.proompteng.ai/v1alpha1",
                                       "OrchestrationRun", name, cluster.namespace) or {}
                      )["slow"][0] == "Running"
    fail_pods.release(cluster.namespace, f"orchestration.proompteng.ai/run={name},"
                                         "orchestration.proompteng.ai/step=slow")
    done = wait_run(cluster, name, run_done, "ended", 90)
    assert step_table(done) == expected
    assert {s["name"]: s.get("attempt") for s in done["status"]["stepStatuses"]
            if s["name"] != "gate"} == {"quick": 1, "slow": 1, "flaky": 1}
    assert done["status"]["phase"] == "Succeeded"
    pinned = condition(done, "ArgoDefaultsPinned")
    assert (pinned["status"], pinned["reason"]) == ("True", "DefaultsPinned")
    for field in ("spec.activeDeadlineSeconds", "spec.templateDefaults.timeout",
                  "spec.templateDefaults.retryStrategy"):
        assert field in pinned["message"]
    (workflow,) = workflows_of(cluster, name)
    nodes = workflow["status"]["nodes"].values()
    assert not [n for n in nodes if n["displayName"] == f"{name}(1)"]  # the run ran once
    assert len([n for n in nodes if n["displayName"].startswith("flaky(")]) == 1
