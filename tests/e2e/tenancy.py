"""Tenants for the security suite (marker `security`): contract §6, tenancy.

A tenant is what issue 22 attacked with: a ServiceAccount whose Role allows every
verb on Orchestrations, OrchestrationRuns, Tools, SignalDeliveries and
ApprovalPolicies (their status included) in its own namespace and nothing else; and,
as Argo users usually are, optionally Workflows too. It talks to the apiserver with
a real bound token, so every request is judged by that Role and nothing a test
does as the tenant borrows the admin's rights. The controller under attack runs
under the chart's RBAC (`orch_controller.leading_controller(namespaces=...)`).

`workflow_namespace` makes a namespace Argo can run Workflows in, as a real install
does (the executor's Role, the token Secret Argo mounts when automounting is off).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.cluster import Cluster
from tests.cluster.argo import controller_objects
from tests.cluster.kube import Kube, Obj, api_client
from tests.e2e.orch_controller import token_kubeconfig

RBAC = "rbac.authorization.k8s.io/v1"
TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
SA_ANNOTATION = "kubernetes.io/service-account.name"
# What issue 22's tenant was given: every verb on these, in its namespace alone.
TENANT_RULES: list[Obj] = [
    {"apiGroups": ["orchestration.proompteng.ai"],
     "resources": ["orchestrations", "orchestrations/status",
                   "orchestrationruns", "orchestrationruns/status"], "verbs": ["*"]},
    {"apiGroups": ["tools.proompteng.ai"], "resources": ["tools"], "verbs": ["*"]},
    {"apiGroups": ["signals.proompteng.ai"], "resources": ["signaldeliveries"],
     "verbs": ["*"]},
    {"apiGroups": ["approvals.proompteng.ai"],
     "resources": ["approvalpolicies", "approvalpolicies/status"], "verbs": ["*"]},
]
WORKFLOW_RULES: list[Obj] = [
    {"apiGroups": ["argoproj.io"], "resources": ["workflows", "workflows/status"],
     "verbs": ["*"]},
]


@dataclass(frozen=True)
class Tenant:
    namespace: str
    account: str
    kubeconfig: Path
    kube: Kube  # every request as the tenant's ServiceAccount


def workflow_namespace(cluster: Cluster, name: str,
                       labels: dict[str, str] | None = None) -> str:
    """Namespace `name`, ready for Workflows whose pods run as `default` with no
    automounted token (what the compiler emits by default)."""
    kube = cluster.kube
    kube.apply({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": dict(labels or {})}})
    for obj in controller_objects(name):
        if obj["kind"] in ("Role", "RoleBinding"):
            kube.apply(obj, name)
    kube.apply({"apiVersion": "v1", "kind": "Secret", "type": TOKEN_SECRET_TYPE,
                "metadata": {"name": "default.service-account-token",
                             "annotations": {SA_ANNOTATION: "default"}}}, name)
    return name


def make_tenant(cluster: Cluster, namespace: str, work: Path, account: str = "tenant",
                edits_workflows: bool = False) -> Tenant:
    """ServiceAccount `account` in `namespace` with the tenant's Role (and, with
    `edits_workflows`, every verb on Workflows there), and a client acting as it."""
    rules = TENANT_RULES + (WORKFLOW_RULES if edits_workflows else [])
    role = f"{account}-role"
    for obj in (
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account}},
        {"apiVersion": RBAC, "kind": "Role", "metadata": {"name": role}, "rules": rules},
        {"apiVersion": RBAC, "kind": "RoleBinding", "metadata": {"name": role},
         "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}},
    ):
        cluster.kube.apply(obj, namespace)
    path = token_kubeconfig(cluster, namespace, account,
                            work / f"{namespace}-{account}.kubeconfig")
    return Tenant(namespace, account, path, Kube(api_client(path)))
