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

import contextlib
import json
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from orchapi.api import API_VERSION, Obj
from tests.cluster import Cluster
from tests.cluster.argo import controller_objects
from tests.cluster.kube import Kube, api_client, wait_for
from tests.e2e.orch_controller import CHART_NAMESPACE, CHART_SA, chart_rules, token_kubeconfig

RBAC = "rbac.authorization.k8s.io/v1"
TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
SA_ANNOTATION = "kubernetes.io/service-account.name"
TOKEN_SECRET = "default.service-account-token"  # what Argo mounts for `default`
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
    automounted token (what the compiler emits by default).

    Why the waits: kube-controller-manager's token controller deletes a token
    Secret whose ServiceAccount does not exist yet, and `default` is created
    asynchronously by the serviceaccount controller. Under load the Secret was
    deleted before `default` appeared, Argo could not mount it, and the first
    Workflow in the namespace ended `Error` (CI, stop 23)."""
    kube = cluster.kube
    kube.apply({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": dict(labels or {})}})
    for obj in controller_objects(name):
        if obj["kind"] in ("Role", "RoleBinding"):
            kube.apply(obj, name)
    wait_for(lambda: kube.get("v1", "ServiceAccount", "default", name),
             f"ServiceAccount {name}/default", timeout=120)
    kube.apply({"apiVersion": "v1", "kind": "Secret", "type": TOKEN_SECRET_TYPE,
                "metadata": {"name": TOKEN_SECRET,
                             "annotations": {SA_ANNOTATION: "default"}}}, name)
    wait_for(lambda: ((kube.get("v1", "Secret", TOKEN_SECRET, name) or {}).get("data")
                      or {}).get("token"),
             f"the token in Secret {name}/{TOKEN_SECRET}", timeout=120)
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
    kube = Kube(api_client(path))
    # The apiserver authorizes from its RBAC informers' caches: a Role bound a
    # moment ago may not allow anything yet. Returned once it does.
    wait_for(lambda: _allowed(lambda: kube.list_objects(API_VERSION, "OrchestrationRun",
                                                          namespace)),
             f"the {account} Role to take effect", 30, 0.05)
    return Tenant(namespace, account, path, kube)


def _allowed(call: Callable[[], object]) -> bool:
    try:
        call()
    except ApiException as e:
        if e.status == 403:
            return False
        raise
    return True


# -- what the attacks need beyond a tenant -------------------------------------------------
CHART_MEMORY_LIMIT = 256 * 1024 * 1024  # the chart's default resources.limits.memory


class MemoryLimit:
    """The controller process held to a memory limit as a kubelet holds a pod: its
    resident memory is sampled every 10 ms and the process is SIGKILLed once it
    passes `limit` (what the OOM killer does to the container). `peak` is its
    high-water mark (VmHWM, the kernel's own, so a spike between samples counts)."""

    def __init__(self, pid: int, limit: int = CHART_MEMORY_LIMIT) -> None:
        self.pid, self.limit = pid, limit
        self.killed = False
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _status(self, field: str) -> int:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _watch(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._status("VmHWM"))
            if self.peak > self.limit and not self.killed:
                self.killed = True
                with contextlib.suppress(OSError):
                    os.kill(self.pid, signal.SIGKILL)

    def rss(self) -> int:
        return self._status("VmRSS")

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return self.peak


def cluster_wide_kubeconfig(cluster: Cluster, name: str, path: Path) -> Path:
    """The chart's ServiceAccount with its rules granted cluster-wide (what the
    chart renders for `namespaces: ["*"]`: one ClusterRole) and its Lease Role in
    the cluster's namespace; a kubeconfig with a real token."""
    controller, lease = chart_rules(name)
    subject = [{"kind": "ServiceAccount", "name": CHART_SA, "namespace": CHART_NAMESPACE}]
    for obj in (
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CHART_NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": CHART_SA, "namespace": CHART_NAMESPACE}},
        {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": name},
         "rules": controller},
        {"apiVersion": RBAC, "kind": "ClusterRoleBinding", "metadata": {"name": name},
         "subjects": subject, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                          "kind": "ClusterRole", "name": name}},
        {"apiVersion": RBAC, "kind": "Role",
         "metadata": {"name": f"{name}-lease", "namespace": cluster.namespace},
         "rules": lease},
        {"apiVersion": RBAC, "kind": "RoleBinding",
         "metadata": {"name": f"{name}-lease", "namespace": cluster.namespace},
         "subjects": subject, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                          "kind": "Role", "name": f"{name}-lease"}},
    ):
        cluster.kube.apply(obj)
    return token_kubeconfig(cluster, CHART_NAMESPACE, CHART_SA, path, "orch-sa")


def send(kube: Kube, method: str, path: str, body: bytes | str,
         content_type: str = "application/json") -> Obj:
    """One request with a body already serialized (an object of a megabyte or
    more is sent as the text it is: the client would encode a string body again),
    authenticated as `kube`'s user; raises ApiException with the apiserver's
    answer."""
    cfg = kube.api.configuration
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    token = cfg.auth_settings().get("BearerToken")
    if token:
        headers[token["key"]] = token["value"]
    response = kube.api.rest_client.pool_manager.request(
        method, cfg.host + path, body=body.encode() if isinstance(body, str) else body,
        headers=headers, preload_content=True, timeout=60)
    if not 200 <= response.status < 300:
        raise _api_error(response)
    out: Obj = json.loads(response.data or b"{}")
    return out


def _api_error(response: Any) -> ApiException:
    e = ApiException(status=response.status, reason=response.reason)
    e.body = response.data
    return e


def at_size_limit(make: Callable[[int], bytes], create: Callable[[bytes], Obj],
                  start: int = 1_600_000) -> int:
    """The largest size of a shape the apiserver (and its etcd) accepts: `make(n)`
    is the text of one object about n bytes long; sizes are tried from `start`
    down, 3% at a time, until one is created. Returns that n."""
    size = start
    while size > 100_000:
        try:
            create(make(size))
            return size
        except ApiException as e:
            if e.status not in (413, 500):  # request too large (apiserver, etcd)
                raise
        size = int(size * 0.97)
    raise AssertionError("no object of this shape was accepted")
