"""Issue 22, "Lie": what a tenant writes must not become what the controller
records (contract §6). Each attack is made by a tenant with issue 22's Role (a real
ServiceAccount token, `tests.e2e.tenancy`), against the controller running under the
chart's RBAC and watching the tenants' namespaces.

- 22.10: a status patch `{phase: Succeeded, observedGeneration: G}` on a running run;
- 22.9: a Workflow the tenant made (all nodes Succeeded, image `evil:latest`), its
  ownerReference pointed at the run, before and after the run submitted its own;
- 22.11: references that are not object names (`.`, `victim/release`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from compiler.emit import emit_workflow, workflow_name
from orchapi.api import Obj
from orchapi.models import Orchestration, OrchestrationRun
from tests.cluster import Cluster
from tests.cluster.kube import wait_for
from tests.e2e.orch_controller import (
    API,
    WF_API,
    ControllerProcess,
    leading_controller,
    orchestration,
    run,
    step,
)
from tests.e2e.tenancy import Tenant, make_tenant, workflow_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.security]
GROUP, VERSION = API.split("/")
HOLDER = "lies-status"  # runs only in the first tenant's namespace
FORGER = "lies-owner"  # a tenant who may also edit Workflows (Argo users usually can)


@pytest.fixture(scope="module")
def tenants(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Tenant, Tenant, ControllerProcess]]:
    work = tmp_path_factory.mktemp("lies")
    plain = make_tenant(cluster, workflow_namespace(cluster, HOLDER), work)
    argo_user = make_tenant(cluster, workflow_namespace(cluster, FORGER), work,
                            account="argo-user", edits_workflows=True)
    with leading_controller(cluster, work, "lies", namespaces=[HOLDER, FORGER]) as proc:
        yield plain, argo_user, proc


def get_run(cluster: Cluster, ns: str, name: str) -> Obj:
    found = cluster.kube.get(API, "OrchestrationRun", name, ns)
    assert found is not None, f"run {ns}/{name} is gone"
    return found


def wait_status(cluster: Cluster, ns: str, name: str, check: Any, what: str,
                timeout: float = 60) -> Obj:
    seen: dict[str, Obj] = {}

    def ready() -> Obj | None:
        obj = get_run(cluster, ns, name)
        seen["last"] = obj
        return obj if check(obj.get("status") or {}) else None
    try:
        found: Obj = wait_for(ready, f"run {ns}/{name}: {what}", timeout, 0.1)
    except TimeoutError as e:
        raise AssertionError(f"{e}; last status: {seen.get('last', {}).get('status')}") from None
    return found


def steps_of(status: Obj) -> dict[str, str]:
    return {s["name"]: s["phase"] for s in status.get("stepStatuses") or ()}


def condition(status: Obj, type_: str) -> tuple[str, str]:
    for c in status.get("conditions") or ():
        if c["type"] == type_:
            return c["status"], c["reason"]
    return "", ""


# -- 22.10: a status patch settles nothing ----------------------------------------------
def test_a_status_patch_does_not_settle_a_running_run(
        cluster: Cluster, tenants: tuple[Tenant, Tenant, ControllerProcess]) -> None:
    plain, _, proc = tenants
    ns, pods = plain.namespace, cluster.failures()
    pods.hold_steps("lies-held", ["a"])
    try:
        plain.kube.apply(orchestration("lies-held", [step("a"), step("b")]), ns)
        plain.kube.apply(run("lies-held-1", "lies-held"), ns)
        running = wait_status(cluster, ns, "lies-held-1", lambda s: steps_of(s) == {
            "a": "Running", "b": "Pending"}, "step a running")
        generation = running["metadata"]["generation"]
        # The tenant's own status write (orchestrationruns/status is in its Role).
        api = client.CustomObjectsApi(plain.kube.api)
        patched: Obj = api.patch_namespaced_custom_object_status(
            GROUP, VERSION, ns, "orchestrationruns", "lies-held-1",
            {"status": {"phase": "Succeeded", "observedGeneration": generation,
                        "progress": "2/2"}})  # type: ignore[assignment]
        assert patched["status"]["phase"] == "Succeeded"  # the write took
        # The controller puts back what it observes: the Workflow still runs.
        back = wait_status(cluster, ns, "lies-held-1",
                           lambda s: s.get("phase") == "Running" and s.get("progress") == "0/2",
                           "mirrored again over the patch", 30)
        assert condition(back["status"], "Succeeded") == ("Unknown", "Running")
        assert steps_of(back["status"]) == {"a": "Running", "b": "Pending"}
    finally:
        pods.clear()
    assert proc.popen is not None and proc.popen.poll() is None


def test_a_rewritten_ended_run_cannot_be_resumed_into_a_result(
        cluster: Cluster, tenants: tuple[Tenant, Tenant, ControllerProcess]) -> None:
    """The tenant rewrites an ended run's steps as Succeeded, then resumes it: the
    resumed run would reuse those records (`Reused`) and end Succeeded with nothing
    run. A status the controller did not write is never reused: it is mirrored over
    (then the failed step reruns), or, read before that, refused (`ResumeRefused`)."""
    plain, _, _ = tenants
    ns, pods = plain.namespace, cluster.failures()
    pods.steps("lies-resume", ["b"])
    try:
        plain.kube.apply(orchestration("lies-resume", [step("a"), step("b")]), ns)
        plain.kube.apply(run("lies-resume-1", "lies-resume"), ns)
        failed = wait_status(cluster, ns, "lies-resume-1",
                             lambda s: s.get("phase") == "Failed", "failed", 90)
    finally:
        pods.clear()
    steps = [{**s, "phase": "Succeeded", "reason": "", "message": ""}
             for s in failed["status"]["stepStatuses"]]
    client.CustomObjectsApi(plain.kube.api).patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, "orchestrationruns", "lies-resume-1",
        {"status": {"phase": "Succeeded", "stepStatuses": steps}})
    resumed = run("lies-resume-2", "lies-resume")
    resumed["spec"]["resumeFrom"] = {"name": "lies-resume-1"}
    plain.kube.apply(resumed, ns)
    done = wait_status(cluster, ns, "lies-resume-2",
                       lambda s: s.get("phase") in ("Succeeded", "Failed"), "ended", 90)
    reasons = {s["name"]: s.get("reason") for s in done["status"].get("stepStatuses") or ()}
    assert reasons.get("b") != "Reused", done["status"]  # b never succeeded: it reran
    if condition(done["status"], "Submitted")[1] != "ResumeRefused":
        assert reasons["a"] == "Reused" and done["status"]["phase"] == "Succeeded"


# -- 22.9: a forged ownerReference adopts nothing -------------------------------------------
def forged_workflow(ns: str, orch: Obj, run_obj: Obj) -> Obj:
    """The Workflow the run would get, made by the tenant instead: every container
    `evil:latest`, every node already Succeeded (so Argo runs nothing of it)."""
    wf = emit_workflow(Orchestration.model_validate({**orch, "metadata": {
        "name": orch["metadata"]["name"], "namespace": ns}}),
        OrchestrationRun.model_validate({**run_obj, "metadata": {
            "name": run_obj["metadata"]["name"], "namespace": ns}})).workflow
    for template in wf["spec"]["templates"]:
        if "container" in template:
            template["container"]["image"] = "evil:latest"
    name = wf["metadata"]["name"]
    entry = wf["spec"]["entrypoint"]
    tasks = wf["spec"]["templates"][0]["dag"]["tasks"]
    nodes = {name: {"id": name, "name": name, "displayName": name, "type": "DAG",
                    "templateName": entry, "phase": "Succeeded",
                    "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:09Z",
                    "children": [f"{name}-{i}" for i in range(len(tasks))]}}
    for i, task in enumerate(tasks):
        nodes[f"{name}-{i}"] = {
            "id": f"{name}-{i}", "name": f"{name}.{task['name']}",
            "displayName": task["name"], "type": "Pod", "boundaryID": name,
            "templateName": task.get("template", ""), "phase": "Succeeded",
            "startedAt": "2026-01-01T00:00:01Z", "finishedAt": "2026-01-01T00:00:08Z"}
    wf["status"] = {"phase": "Succeeded", "startedAt": "2026-01-01T00:00:00Z",
                    "finishedAt": "2026-01-01T00:00:09Z", "nodes": nodes}
    return wf


def owned_by(wf: Obj, run_obj: Obj) -> Obj:
    out = copy.deepcopy(wf)
    out["metadata"]["ownerReferences"] = [{
        "apiVersion": API, "kind": "OrchestrationRun", "name": run_obj["metadata"]["name"],
        "uid": run_obj["metadata"]["uid"], "controller": True}]
    return out


def images(wf: Obj) -> set[str]:
    return {t["container"]["image"] for t in wf["spec"]["templates"] if "container" in t}


def test_a_forged_owner_reference_before_submission_is_never_adopted(
        cluster: Cluster, tenants: tuple[Tenant, Tenant, ControllerProcess]) -> None:
    _, argo_user, _ = tenants
    ns, kube = argo_user.namespace, argo_user.kube
    orch = orchestration("lies-forge", [step("a"), step("b")])
    kube.apply(orch, ns)
    body = run("lies-forge-1", "lies-forge")
    # The tenant takes the run's Workflow name first, then creates the run and points
    # its Workflow at it.
    kube.apply(forged_workflow(ns, orch, body), ns)
    created = kube.apply(body, ns)
    forged_uid = kube.apply(owned_by(forged_workflow(ns, orch, body), created),
                            ns)["metadata"]["uid"]
    seen: list[Obj] = []

    def ended(status: Obj) -> bool:
        seen.append(status)
        return status.get("phase") in ("Succeeded", "Failed", "Cancelled")
    done = wait_status(cluster, ns, "lies-forge-1", ended, "ended", 120)
    assert all((s.get("workflowRef") or {}).get("uid") != forged_uid for s in seen), \
        "the run recorded the tenant's Workflow"
    assert done["status"]["phase"] == "Succeeded", done["status"]
    wf = cluster.kube.get(WF_API, "Workflow", workflow_name("lies-forge-1"), ns)
    assert wf is not None and wf["metadata"]["uid"] == done["status"]["workflowRef"]["uid"]
    assert wf["metadata"]["uid"] != forged_uid
    assert images(wf) == {"alpine:3.20"}  # what the Orchestration says, not evil:latest


def test_a_forged_workflow_in_place_of_a_submitted_one_ends_the_run(
        cluster: Cluster, tenants: tuple[Tenant, Tenant, ControllerProcess]) -> None:
    """While the controller is down (a restart; it keeps nothing in memory), the
    tenant deletes the run's Workflow and puts its own, pointed at the run, in its
    place."""
    _, argo_user, proc = tenants
    ns, kube, pods = argo_user.namespace, argo_user.kube, cluster.failures()
    pods.hold_steps("lies-swap", ["a"])
    try:
        orch = orchestration("lies-swap", [step("a"), step("b")])
        kube.apply(orch, ns)
        created = kube.apply(run("lies-swap-1", "lies-swap"), ns)
        running = wait_status(cluster, ns, "lies-swap-1",
                              lambda s: s.get("phase") == "Running", "running")
        ours = running["status"]["workflowRef"]["uid"]
        name = workflow_name("lies-swap-1")
        proc.kill()
        client.CustomObjectsApi(kube.api).delete_namespaced_custom_object(
            "argoproj.io", "v1alpha1", ns, "workflows", name,
            body=client.V1DeleteOptions(propagation_policy="Background"))
        wait_for(lambda: (w := cluster.kube.get(WF_API, "Workflow", name, ns)) is None
                 or w["metadata"]["uid"] != ours, "the run's Workflow gone", 30, 0.1)
        forged = kube.apply(owned_by(forged_workflow(ns, orch, created), created), ns)
        proc.start().wait_ready()
        wait_for(proc.is_leader, "the controller to lead again", 30, 0.1)
        done = wait_status(cluster, ns, "lies-swap-1",
                           lambda s: s.get("phase") in ("Succeeded", "Failed"), "ended", 60)
    finally:
        pods.clear()
    status = done["status"]
    assert status["phase"] == "Failed", status
    assert condition(status, "Submitted") == ("False", "WorkflowDeleted")
    assert status["workflowRef"]["uid"] == ours != forged["metadata"]["uid"]


# -- 22.11: references are object names ----------------------------------------------------
def refused(call: Any) -> str:
    try:
        call()
    except ApiException as e:
        assert e.status == 422, e.body
        return str(e.body)
    raise AssertionError("accepted")


@pytest.mark.parametrize(("field", "value"), [
    pytest.param("orchestrationRef", ".", id="orchestration-ref-dot"),
    pytest.param("orchestrationRef", "victim/release", id="orchestration-ref-subresource"),
    pytest.param("resumeFrom", ".", id="resume-from-dot"),
    pytest.param("resumeFrom", "victim/release", id="resume-from-subresource"),
])
def test_a_run_naming_what_no_object_can_be_is_refused_at_admission(
        cluster: Cluster, tenants: tuple[Tenant, Tenant, ControllerProcess],
        field: str, value: str) -> None:
    plain, _, proc = tenants
    body = run(f"lies-name-{abs(hash((field, value))) % 10**6}", "lies-held")
    body["spec"][field] = {"name": value}
    message = refused(lambda: plain.kube.apply(body, plain.namespace))
    assert f"spec.{field}.name" in message
    assert proc.popen is not None and proc.popen.poll() is None


@pytest.mark.parametrize(("step_body", "path"), [
    pytest.param({"kind": "SubOrchestration", "orchestrationRef": {"name": "."}},
                 "orchestrationRef.name", id="sub-orchestration-dot"),
    pytest.param({"kind": "ToolRun", "toolRef": {"name": "victim/release"}},
                 "toolRef.name", id="tool-subresource"),
    pytest.param({"kind": "ApprovalGate", "policyRef": ".."}, "policyRef", id="policy-dotdot"),
    pytest.param({"kind": "AgentRun", "agentRef": {"name": "a/b"}}, "agentRef.name",
                 id="agent-subresource"),
])
def test_a_step_naming_what_no_object_can_be_is_refused_at_admission(
        cluster: Cluster, tenants: tuple[Tenant, Tenant, ControllerProcess],
        step_body: Obj, path: str) -> None:
    plain = tenants[0]
    body = orchestration("lies-steps", [{"name": "s", **step_body}])
    message = refused(lambda: plain.kube.apply(body, plain.namespace))
    assert path in message

