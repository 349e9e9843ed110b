"""The controller as a real subprocess against the test cluster, for e2e tests.

Why a subprocess: SIGKILL, SIGTERM, restarts and two competing replicas are only
real with real processes; and the controller then talks to the apiserver exactly
as in a pod, through a kubeconfig, optionally as the chart's ServiceAccount.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from orchapi.api import API_VERSION, Obj
from orchapi.argo import ARGO_API_VERSION
from orchapi.vocabulary import RUN_DONE
from tests.cluster import Cluster
from tests.cluster.kube import wait_for
from tests.cluster.procs import free_port
from tests.cluster.tools import REPO

API = API_VERSION
WF_API = ARGO_API_VERSION
RBAC_TEMPLATE = REPO / "charts" / "orch" / "templates" / "rbac.yaml"
CHART_SA = "orch"
CHART_NAMESPACE = "orch-system"
# The Lease timings a chart install runs with (the controller's defaults), for tests
# where a lost Lease would be a flake, not the point: on a loaded machine the
# apiserver answers a renewal in more than 3 s at times. Elsewhere the tests use
# 4 s, so that a failover they cause is quick.
CHART_LEASE = ("--lease-duration", "15", "--renew-deadline", "10", "--retry-period", "2")


class ControllerProcess:
    """`python -m controller` with its own log file, probes and metrics port."""

    def __init__(self, kubeconfig: Path, namespaces: str, log_dir: Path, identity: str,
                 lease_namespace: str, lease_name: str = "orch-controller-e2e",
                 extra: Sequence[str] = (), env: dict[str, str] | None = None) -> None:
        self.kubeconfig, self.namespaces, self.identity = kubeconfig, namespaces, identity
        self.lease_namespace, self.lease_name = lease_namespace, lease_name
        self.extra, self.env = list(extra), dict(env or {})
        self.log = log_dir / f"controller-{identity}.log"
        self.port = free_port()
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> ControllerProcess:
        argv = [sys.executable, "-m", "controller", "--kubeconfig", str(self.kubeconfig),
                "--namespaces", self.namespaces,
                "--metrics-bind-address", f"127.0.0.1:{self.port}",
                "--health-probe-bind-address", f"127.0.0.1:{self.port}",
                "--leader-election-namespace", self.lease_namespace,
                "--leader-election-id", self.lease_name, "--identity", self.identity,
                "--lease-duration", "4", "--renew-deadline", "3", "--retry-period", "0.5",
                "--workers", "8", *self.extra]
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL,
                                          env={**os.environ, "PYTHONUNBUFFERED": "1",
                                               **self.env})
        return self

    def get(self, path: str) -> tuple[int, str]:
        try:
            # Not 2 s: a loaded machine answers late, and a metric read as 0 lies.
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                return int(r.status), r.read().decode()
        except urllib.error.HTTPError as e:
            return int(e.code), e.read().decode()
        except (urllib.error.URLError, OSError):
            return 0, ""

    def wait_ready(self, timeout: float = 30) -> ControllerProcess:
        def ready() -> bool:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"controller exited {self.popen.returncode}:\n{self.tail()}")
            return self.get("/readyz")[0] == 200
        wait_for(ready, f"controller {self.identity} /readyz", timeout, 0.1)
        return self

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        _, text = self.get("/metrics")
        total = 0.0
        for line in text.splitlines():
            m = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
            if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
                total += float(m.group(2))
        return total

    def is_leader(self) -> bool:
        return self.metric("leader_election_master_status") == 1.0

    def terminate(self, timeout: float = 30) -> int:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout)

    def kill(self) -> None:
        assert self.popen is not None
        self.popen.kill()
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# -- the chart's RBAC ------------------------------------------------------------------
@contextmanager
def leading_controller(cluster: Cluster, work: Path, name: str,
                       env: dict[str, str] | None = None,
                       namespaces: Sequence[str] = (),
                       ready_timeout: float = 30,
                       extra: Sequence[str] = ()) -> Iterator[ControllerProcess]:
    """A controller for `namespaces` (default: the cluster's namespace) under the
    chart's RBAC (as ServiceAccount orch-e2e-NAME), yielded once it holds its Lease;
    stopped after, with its log's tail printed for the test report. `extra`: more
    flags (a later one wins, e.g. the chart's Lease timings instead of the fast
    ones these tests use)."""
    watched = list(namespaces) or [cluster.namespace]
    kubeconfig = service_account_kubeconfig(cluster, watched, cluster.namespace,
                                            f"orch-e2e-{name}", work / "sa-kubeconfig")
    proc = ControllerProcess(kubeconfig, ",".join(watched), work, f"{name}-0",
                             cluster.namespace, f"orch-e2e-{name}", extra, env).start()
    try:
        proc.wait_ready(ready_timeout)
        wait_for(proc.is_leader, "the controller to hold its Lease", max(20.0, ready_timeout),
                 0.1)
        yield proc
    finally:
        proc.stop()
        print(f"\ncontroller log tail:\n{proc.tail(15)}")


def apply(cluster: Cluster, *objs: Obj) -> list[Obj]:
    """Server-side apply into the cluster's namespace, as `kubectl apply` would."""
    return [cluster.kube.apply(o, cluster.namespace) for o in objs]


def chart_rules(lease_name: str) -> tuple[list[Obj], list[Obj]]:
    """The controller's rules and the leader-election rules, read from the chart's
    rbac.yaml (the `orch.controllerRules` define and the leader-election Role, whose
    `resourceNames` name the release's Lease: here `lease_name`), so the tests run
    with exactly what the chart grants."""
    text = RBAC_TEMPLATE.read_text()
    define = re.search(r'\{\{-? define "orch.controllerRules" -?\}\}\n(.*?)\{\{-? end -?\}\}',
                       text, re.S)
    assert define, "orch.controllerRules not found in the chart"
    controller: list[Obj] = yaml.safe_load(define.group(1))
    election = re.search(r"name: \{\{ \$fullName \}\}-leader-election\n.*?rules:\n(.*?)\n---",
                         text, re.S)
    assert election, "leader-election Role not found in the chart"
    lease: list[Obj] = yaml.safe_load(election.group(1).replace("{{ $fullName }}", lease_name))
    return controller, lease


ARGO_CONFIG_NAMESPACE = "argo"  # the test cluster's Argo (tests/cluster/argo.py)


def argo_config_rules() -> list[Obj]:
    """The chart's Role on Argo's ConfigMap (its workflowDefaults, read at submission)."""
    found = re.search(r"name: \{\{ \$fullName \}\}-argo-config\n.*?rules:\n(.*?)\n---",
                      RBAC_TEMPLATE.read_text(), re.S)
    assert found, "the argo-config Role not found in the chart"
    rules: list[Obj] = yaml.safe_load(found.group(1).replace(
        '{{ index $parts 1 | quote }}', '"workflow-controller-configmap"'))
    return rules


def service_account_kubeconfig(cluster: Cluster, namespaces: Sequence[str], lease_ns: str,
                               lease_name: str, path: Path) -> Path:
    """A ServiceAccount with the chart's Roles in `namespaces` (+ the Lease Role for
    `lease_name`), and a kubeconfig authenticating as it with a real token."""
    kube = cluster.kube
    controller, lease = chart_rules(lease_name)
    objs: list[Obj] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CHART_NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": CHART_SA, "namespace": CHART_NAMESPACE}}]
    subject = [{"kind": "ServiceAccount", "name": CHART_SA, "namespace": CHART_NAMESPACE}]
    grants = [(ns, "orch", controller) for ns in namespaces] + [
        (lease_ns, "orch-leader-election", lease),
        (ARGO_CONFIG_NAMESPACE, "orch-argo-config", argo_config_rules())]
    for ns, name, rules in grants:
        objs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                     "metadata": {"name": name, "namespace": ns}, "rules": rules})
        objs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                     "metadata": {"name": name, "namespace": ns}, "subjects": subject,
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                 "name": name}})
    for obj in objs:
        kube.apply(obj)
    return token_kubeconfig(cluster, CHART_NAMESPACE, CHART_SA, path, "orch-sa")


def token_kubeconfig(cluster: Cluster, namespace: str, name: str, path: Path,
                     user: str | None = None, expiration_seconds: int = 7200) -> Path:
    """A kubeconfig authenticating as ServiceAccount `namespace/name` with a real
    bound token (TokenRequest), so the apiserver judges every request by its RBAC."""
    from kubernetes import client

    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(
        audiences=["https://kubernetes.default.svc.cluster.local"],
        expiration_seconds=expiration_seconds))
    status = client.CoreV1Api(cluster.api_client).create_namespaced_service_account_token(
        name, namespace, request).status
    assert status is not None
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"] = [{"name": user or name, "user": {"token": status.token}}]
    config["contexts"][0]["context"]["user"] = user or name
    path.write_text(yaml.safe_dump(config))
    return path


# -- objects ---------------------------------------------------------------------------------
def orchestration(name: str, steps: list[Obj]) -> Obj:
    return {"apiVersion": API, "kind": "Orchestration", "metadata": {"name": name},
            "spec": {"steps": steps}}


def run(name: str, orchestration_name: str, **params: str) -> Obj:
    spec: Obj = {"orchestrationRef": {"name": orchestration_name}}
    if params:
        spec["parameters"] = params
    return {"apiVersion": API, "kind": "OrchestrationRun", "metadata": {"name": name},
            "spec": spec}


def step(name: str, deps: list[str] | None = None, **extra: Any) -> Obj:
    out: Obj = {"name": name, "kind": "Container", "image": "alpine:3.20",
                "command": ["sh", "-c", f"echo {name}"], **extra}
    if deps is not None:
        out["dependsOn"] = deps
    return out


def wait_run(cluster: Cluster, name: str, check: Callable[[Obj], bool], what: str,
             timeout: float = 60) -> Obj:
    last: dict[str, Obj] = {}

    def done() -> Obj | None:
        obj = cluster.kube.get(API, "OrchestrationRun", name, cluster.namespace)
        if obj is not None:
            last["obj"] = obj
        return obj if obj is not None and check(obj) else None
    try:
        found: Obj = wait_for(done, f"run {name}: {what}", timeout, 0.1)
    except TimeoutError as e:
        raise AssertionError(f"{e}; last status: {last.get('obj', {}).get('status')}") from None
    return found


def run_done(obj: Obj) -> bool:
    return (obj.get("status") or {}).get("phase") in RUN_DONE  # Cancelled too


def step_table(obj: Obj) -> dict[str, tuple[str, str | None]]:
    return {s["name"]: (s["phase"], s.get("reason"))
            for s in (obj.get("status") or {}).get("stepStatuses") or ()}


def condition(obj: Obj, type_: str) -> Obj:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c["type"] == type_:
            return dict(c)
    raise AssertionError(f"no condition {type_} in {obj.get('status')}")


def workflows_of(cluster: Cluster, run_name: str) -> list[Obj]:
    return cluster.kube.list_objects(WF_API, "Workflow", cluster.namespace,
                                     f"orchestration.proompteng.ai/run={run_name}")


def resource_manifest(pods: Sequence[Obj]) -> Obj | None:
    """The object a resource step's executor would create: Argo's final manifest,
    from the executor pod's ARGO_TEMPLATE; None while no such pod exists."""
    for pod in pods:
        for c in pod["spec"].get("containers", []) + pod["spec"].get("initContainers", []):
            for e in c.get("env") or []:
                if e["name"] == "ARGO_TEMPLATE":
                    manifest: Obj = yaml.safe_load(json.loads(e["value"])["resource"]["manifest"])
                    return manifest
    return None


def execute_resource_step(cluster: Cluster, namespace: str, run_name: str,
                          step_name: str, timeout: float = 60) -> Obj:
    """What argoexec does for a `resource` step whose pod kwok holds Running (kwok
    runs no container): create the manifest Argo resolved into the pod's
    `ARGO_TEMPLATE`, as `argoexec resource create` would. Returns the created object."""
    selector = (f"orchestration.proompteng.ai/run={run_name},"
                f"orchestration.proompteng.ai/step={step_name}")

    def running_pod() -> Obj | None:
        pods = cluster.kube.list_objects("v1", "Pod", namespace, selector)
        return next((p for p in pods if (p.get("status") or {}).get("phase") == "Running"),
                    None)
    pod = wait_for(running_pod, f"{run_name}/{step_name}'s pod Running", timeout)
    for container in pod["spec"]["containers"] + pod["spec"].get("initContainers", []):
        for env in container.get("env") or ():
            if env["name"] == "ARGO_TEMPLATE":
                manifest = yaml.safe_load(json.loads(env["value"])["resource"]["manifest"])
                created: Obj = cluster.kube.apply(manifest, namespace)
                return created
    raise AssertionError(f"no ARGO_TEMPLATE in pod {pod['metadata']['name']}")
