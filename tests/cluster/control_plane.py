"""etcd, kube-apiserver, kube-controller-manager and kube-scheduler, as processes.

Why: the controller and the e2e tests need a real apiserver (watches,
resourceVersions, RBAC, status subresources), a real garbage collector
(ownerReferences) and a real scheduler (kwok's pods need `spec.nodeName`, and
the scheduler sets it exactly as in a cluster, leaving the compiled Workflow
untouched). The flags follow envtest's, plus RBAC and client-cert auth.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.cluster.pki import Pki
from tests.cluster.procs import Proc, Supervisor, free_port

# What the tests need of kube-controller-manager: ownerReference garbage
# collection, namespace deletion, the `default` ServiceAccount in each namespace
# (the ServiceAccount admission plugin requires it), kube-root-ca.crt, and
# Deployments/Jobs becoming pods, and node lifecycle: it lifts the
# `node.kubernetes.io/not-ready` taint the apiserver puts on every new Node once
# kwok reports it Ready (taint-based eviction stays off); and ResourceQuota usage
# (a quota is enforced by the apiserver only once this controller has computed
# its status), so a test can see the apiserver refuse a create for quota. The
# quota of a custom resource is counted from the first full sync after the
# controller discovered it, so syncs run every 5 s here (default 5 min).
CONTROLLERS = (
    "garbage-collector-controller", "namespace-controller", "serviceaccount-controller",
    "resourcequota-controller",
    "serviceaccount-token-controller", "root-ca-certificate-publisher-controller",
    "deployment-controller", "replicaset-controller", "job-controller",
    "node-lifecycle-controller",
)


# The audit log records every request made by a ServiceAccount (any namespace) at
# Metadata level (who, verb, resource, namespace, response code; no bodies), once
# per request (at ResponseComplete; a watch also at ResponseStarted). Why: the chart
# test compares what the controller, run under the chart's ServiceAccount, really
# does with what the chart grants it. Only test controllers authenticate as
# ServiceAccounts here (the control plane, kwok and Argo use the admin
# certificate), so the log stays small; everything else is not logged.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "Metadata", "userGroups": ["system:serviceaccounts"]},
        {"level": "None"},
    ],
}
AUDIT_LOG = "audit.log"


class StartupError(RuntimeError):
    """A component did not become ready; the message carries its log tail."""


@dataclass(frozen=True)
class ApiServer:
    url: str
    kubeconfig: Path


def wait_until(what: str, proc: Proc, ready: Probe, timeout: float) -> None:
    """Poll `ready` until it is true; fail fast if `proc` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise StartupError(f"{what} exited ({proc.popen.returncode}):\n{proc.log_tail()}")
        if ready():
            return
        time.sleep(0.1)
    raise StartupError(f"{what} not ready after {timeout:.0f}s:\n{proc.log_tail()}")


class Probe:
    """An HTTP(S) GET that is ready when it answers 200."""

    def __init__(self, url: str, context: ssl.SSLContext | None = None) -> None:
        self.url, self.context = url, context

    def __call__(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=2, context=self.context) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False


def start_etcd(sup: Supervisor, bin_dir: Path, data: Path) -> str:
    client, peer = free_port(), free_port()
    url = f"http://127.0.0.1:{client}"
    proc = sup.start("etcd", [
        str(bin_dir / "etcd"), "--name", "orch-test", "--data-dir", str(data),
        "--listen-client-urls", url, "--advertise-client-urls", url,
        "--listen-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-cluster", f"orch-test=http://127.0.0.1:{peer}",
        "--unsafe-no-fsync", "--log-level", "warn",
    ])
    wait_until("etcd", proc, Probe(f"{url}/health"), 30)
    return url


def start_apiserver(
    sup: Supervisor, bin_dir: Path, etcd_url: str, pki: Pki, work: Path
) -> ApiServer:
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    policy = work / "audit-policy.yaml"
    policy.write_text(yaml.safe_dump(AUDIT_POLICY, sort_keys=False))
    proc = sup.start("kube-apiserver", [
        str(bin_dir / "kube-apiserver"),
        f"--etcd-servers={etcd_url}",
        f"--cert-dir={work / 'apiserver-certs'}",
        f"--tls-cert-file={pki.serving_cert}", f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--secure-port={port}", "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        "--allow-privileged=true",
        "--etcd-compaction-interval=0",
        f"--audit-policy-file={policy}", f"--audit-log-path={work / AUDIT_LOG}",
        "--audit-log-format=json", "--audit-log-mode=blocking",
        "--v=1",
    ])
    kubeconfig = work / "kubeconfig"
    write_kubeconfig(kubeconfig, url, pki)
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    ctx.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    wait_until("kube-apiserver", proc, Probe(f"{url}/readyz", ctx), 60)
    return ApiServer(url, kubeconfig)


def write_kubeconfig(path: Path, url: str, pki: Pki, namespace: str = "default") -> None:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "orch-test",
        "clusters": [{"name": "orch-test", "cluster": {
            "server": url, "certificate-authority": str(pki.ca_cert)}}],
        "users": [{"name": "admin", "user": {
            "client-certificate": str(pki.admin_cert), "client-key": str(pki.admin_key)}}],
        "contexts": [{"name": "orch-test", "context": {
            "cluster": "orch-test", "user": "admin", "namespace": namespace}}],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def start_controller_manager(sup: Supervisor, bin_dir: Path, kubeconfig: Path, pki: Pki) -> Proc:
    return sup.start("kube-controller-manager", [
        str(bin_dir / "kube-controller-manager"),
        f"--kubeconfig={kubeconfig}",
        f"--controllers={','.join(CONTROLLERS)}",
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca_cert}",
        "--leader-elect=false", "--secure-port=0",
        "--node-monitor-period=1s", "--resource-quota-sync-period=5s", "--v=1",
    ])


def start_scheduler(sup: Supervisor, bin_dir: Path, kubeconfig: Path) -> Proc:
    return sup.start("kube-scheduler", [
        str(bin_dir / "kube-scheduler"),
        f"--kubeconfig={kubeconfig}", "--leader-elect=false", "--secure-port=0", "--v=1",
    ])


def version(url: str, pki: Pki) -> dict[str, str]:
    """The apiserver's /version, as a check that the ldflags took."""
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    ctx.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    with urllib.request.urlopen(f"{url}/version", timeout=5, context=ctx) as r:
        data: dict[str, str] = json.load(r)
        return data
