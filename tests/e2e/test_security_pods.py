"""A tenant cannot borrow through its steps' pods what RBAC did not give it (issue 22,
items 6 to 8; contract §6, tenancy): on the real cluster, as issue 22's tenant (its
own namespace's Orchestrations, runs and Tools, no pods, no Secrets), against the
controller under the chart's RBAC and the install's pod policy. Each attack below
was a Workflow the controller submitted (a privileged root pod with the host's `/`,
a Secret in the environment, the Workflows' token, a Tool running as an admin's
ServiceAccount or any image, an admin's ClusterWorkflowTemplate); each is now a run
refused before any Workflow exists, `Submitted=False InvalidField`, the message
naming the step's key and the policy's rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from orchapi.api import RUN_LABEL, TOOLS_API_VERSION, Obj
from tests.cluster import Cluster
from tests.cluster.kube import wait_for
from tests.e2e.orch_controller import API, WF_API, leading_controller
from tests.e2e.tenancy import Tenant, make_tenant, workflow_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.security]

NAMESPACE = "sec-pod-policy"
# The install: the default policy, but Tools and Containers only from one registry.
POLICY = {"images": ["alpine:*"]}
TOOLS_API = TOOLS_API_VERSION


@dataclass(frozen=True)
class Attacked:
    tenant: Tenant
    namespace: str


@pytest.fixture(scope="module")
def attacked(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Attacked]:
    """The tenant's namespace, holding what an admin put there (a Secret, a powerful
    ServiceAccount) and a ClusterWorkflowTemplate; a controller watching it."""
    work = tmp_path_factory.mktemp("security-pods")
    namespace = workflow_namespace(cluster, NAMESPACE)
    kube = cluster.kube
    kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-credentials"},
                "stringData": {"password": "hunter2"}}, namespace)
    kube.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "cluster-deployer"}}, namespace)
    kube.apply({"apiVersion": WF_API, "kind": "ClusterWorkflowTemplate",
                "metadata": {"name": "admin-steps"},
                "spec": {"templates": [{"name": "apply", "container": {
                    "image": "bitnami/kubectl:1.36", "command": ["kubectl", "apply"]}}]}})
    tenant = make_tenant(cluster, namespace, work)
    with leading_controller(cluster, work, "security-pods", namespaces=[namespace],
                            env={"ORCH_POD_POLICY": json.dumps(POLICY)}):
        yield Attacked(tenant, namespace)


def _container(**fields: Any) -> Obj:
    return {"kind": "Container", "image": "alpine:3.20", "command": ["sh", "-c", "id"], **fields}


def _tool(name: str, **spec: Any) -> Obj:
    return {"apiVersion": TOOLS_API, "kind": "Tool", "metadata": {"name": name},
            "spec": {"image": "alpine:3.20", "command": ["sh", "-c", "id"], **spec}}


HOST_ROOT = {"volumeMounts": [{"name": "host", "mountPath": "/host"}],
             "volumes": [{"name": "host", "hostPath": {"path": "/"}}]}
TOKEN = {"volumeMounts": [{"name": "token", "mountPath": "/var/run/token"}],
         "volumes": [{"name": "token", "projected": {"sources": [
             {"serviceAccountToken": {"path": "token", "audience": "kubernetes"}}]}}]}
SECRET_ENV = {"env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {
    "name": "db-credentials", "key": "password"}}}]}

# (id, the step, a Tool it runs, the key refused, the policy's rule)
ATTACKS = [
    pytest.param(_container(securityContext={"privileged": True}), None,
                 "securityContext.privileged", "podSecurity", id="privileged"),
    pytest.param(_container(securityContext={"runAsUser": 0}), None,
                 "securityContext.runAsUser", "podSecurity", id="root"),
    pytest.param(_container(securityContext={"runAsNonRoot": False}), None,
                 "securityContext.runAsNonRoot", "podSecurity", id="not-non-root"),
    pytest.param(_container(**HOST_ROOT), None, "volumes[0].hostPath", "volumeTypes",
                 id="host-root-mounted"),
    pytest.param(_container(**SECRET_ENV), None, "env[0].valueFrom.secretKeyRef", "secrets",
                 id="secret-key-ref"),
    pytest.param(_container(envFrom=[{"secretRef": {"name": "db-credentials"}}]), None,
                 "envFrom[0].secretRef", "secrets", id="env-from-secret"),
    pytest.param(_container(**TOKEN), None,
                 "volumes[0].projected.sources[0].serviceAccountToken", "volumeTypes",
                 id="projected-token"),
    pytest.param({"kind": "ToolRun", "toolRef": {"name": "as-admin"}},
                 _tool("as-admin", serviceAccount="cluster-deployer"), "toolRef",
                 "serviceAccounts", id="tool-unlisted-service-account"),
    pytest.param({"kind": "ToolRun", "toolRef": {"name": "miner"}},
                 _tool("miner", image="evil.example/miner:latest"), "toolRef", "images",
                 id="tool-unlisted-image"),
    pytest.param(_container(image="evil.example/miner:latest"), None, "image", "images",
                 id="container-unlisted-image"),
    pytest.param({"kind": "Template", "templateRef": {"name": "admin-steps",
                                                      "template": "apply",
                                                      "clusterScope": True}}, None,
                 "templateRef.clusterScope", "templateRefs", id="cluster-workflow-template"),
]


def _submitted(run: Obj) -> Obj | None:
    for c in (run.get("status") or {}).get("conditions") or ():
        if c["type"] == "Submitted" and c["status"] in ("True", "False"):
            return dict(c)
    return None


def _run_as_tenant(attacked: Attacked, name: str, step: Obj, tool: Obj | None) -> Obj:
    """The tenant creates the Orchestration (its Tool) and a run; the run's
    Submitted condition once the controller has decided."""
    kube, ns = attacked.tenant.kube, attacked.namespace
    if tool is not None:
        kube.apply(tool, ns)
    kube.apply({"apiVersion": API, "kind": "Orchestration", "metadata": {"name": name},
                "spec": {"steps": [{"name": "attack", **step}]}}, ns)
    kube.apply({"apiVersion": API, "kind": "OrchestrationRun", "metadata": {"name": name},
                "spec": {"orchestrationRef": {"name": name}}}, ns)

    def decided() -> Obj | None:
        run = kube.get(API, "OrchestrationRun", name, ns)
        return _submitted(run) if run else None
    found: Obj = wait_for(decided, f"run {name} submitted or refused", 60, 0.2)
    return found


@pytest.mark.parametrize(("step", "tool", "key", "rule"), ATTACKS)
def test_a_tenant_cannot_borrow_through_a_pod(cluster: Cluster, attacked: Attacked,
                                              request: pytest.FixtureRequest, step: Obj,
                                              tool: Obj | None, key: str, rule: str) -> None:
    name = f"attack-{request.node.callspec.id}"
    submitted = _run_as_tenant(attacked, name, step, tool)
    assert (submitted["status"], submitted["reason"]) == ("False", "InvalidField"), submitted
    message = submitted["message"]
    assert f"spec.steps[0].{key}:" in message, message
    assert "pod policy" in message and rule in message, message
    # Nothing was created for it: no Workflow, so no pod (read as the admin).
    assert cluster.kube.list_objects(WF_API, "Workflow", attacked.namespace,
                                     f"{RUN_LABEL}={name}") == []


def test_what_the_policy_allows_still_runs(cluster: Cluster, attacked: Attacked) -> None:
    """The control: the same tenant's plain Container step and Tool are submitted
    (the controller, its RBAC and the tenant's rights are not what refused the rest)."""
    step = {"kind": "ToolRun", "toolRef": {"name": "plain"},
            "securityContext": {"runAsUser": 1000}}
    submitted = _run_as_tenant(attacked, "allowed", step, _tool("plain"))
    assert (submitted["status"], submitted["reason"]) == ("True", "WorkflowCreated"), submitted
    (workflow,) = cluster.kube.list_objects(WF_API, "Workflow", attacked.namespace,
                                            f"{RUN_LABEL}=allowed")
    (template,) = [t for t in workflow["spec"]["templates"] if "container" in t]
    assert template["container"]["securityContext"]["runAsUser"] == 1000
    assert workflow["spec"]["securityContext"]["runAsNonRoot"] is True
