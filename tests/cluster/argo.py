"""The real Argo workflow-controller, its configuration, and waiting on Workflows.

Why: compiled Workflows are only proven by the controller that runs them.
It runs out of cluster with the admin kubeconfig, leader election off, its
ConfigMap present (metrics servers off so two runs never fight over a port),
and the executor RBAC a real install gives Workflow pods. How it runs (flags,
environment, ConfigMap keys) is an `ArgoSettings`: every test uses `DEFAULT`;
the throughput benchmark (`benchmarks.many_runs`) also runs `FAST`, Argo tuned
as far as this machine allows (docs/throughput.md says why each value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client

from orchapi.api import Obj
from tests.cluster.kube import Kube, wait_for
from tests.cluster.procs import Proc, Supervisor

WF_API = "argoproj.io/v1alpha1"
CONTROLLER_NAMESPACE = "argo"
CONFIGMAP = "workflow-controller-configmap"
DONE = ("Succeeded", "Failed", "Error")
# Argo asks the registry for the entrypoint of a container without `command`;
# this cluster has no registry, so the images the tests run that way are
# declared, as Argo's docs prescribe for air-gapped installs.
IMAGES = """\
"alpine:3.20": {cmd: [/bin/sh]}
"alpine/git:2.45": {entrypoint: [git]}
"aquasec/trivy:0.50.0": {entrypoint: [trivy]}
"python:3.11": {cmd: [python3]}
"golang:1.26": {cmd: [bash]}
"""


@dataclass(frozen=True)
class ArgoSettings:
    """The workflow-controller's flags, environment and extra ConfigMap keys.

    Argo v4.0.5's own defaults (cmd/workflow-controller/main.go) are 32 workers,
    qps 20, burst 30, 4 pod-cleanup workers, DEFAULT_REQUEUE_TIME 10s."""

    workflow_workers: int = 8
    qps: float = 100
    burst: int = 200
    pod_cleanup_workers: int = 4
    # How long a Workflow waits after a pod event before it is operated on
    # again (workflow/controller/rate_limiters.go). 1s is Argo's own e2e
    # setting (its Makefile): a diamond takes ~2 s instead of ~20 s.
    requeue_time: str = "1s"
    log_level: str = "info"
    env: Mapping[str, str] = field(default_factory=dict)
    # ConfigMap keys beside ours (e.g. "parallelism", "resourceRateLimit")
    config: Mapping[str, str] = field(default_factory=dict)
    # Serve Argo's Prometheus metrics (plain HTTP) on this port; None: off, so
    # two clusters never fight over :9090.
    metrics_port: int | None = None

    def argv(self) -> list[str]:
        return [f"--loglevel={self.log_level}", f"--workflow-workers={self.workflow_workers}",
                f"--qps={self.qps:g}", f"--burst={self.burst}",
                f"--pod-cleanup-workers={self.pod_cleanup_workers}"]

    def environment(self) -> dict[str, str]:
        return {"LEADER_ELECTION_DISABLE": "true", "DEFAULT_REQUEUE_TIME": self.requeue_time,
                **self.env}

    def configmap_data(self) -> dict[str, str]:
        metrics = ("enabled: false\n" if self.metrics_port is None else
                   f"enabled: true\nport: {self.metrics_port}\nsecure: false\n")
        return {"metricsConfig": metrics, "telemetryConfig": "enabled: false\n",
                "images": IMAGES, **self.config}


DEFAULT = ArgoSettings()
# Argo as fast as this machine allows, measured with `benchmarks.many_runs`
# (docs/throughput.md: what bounds Argo v4.0.5, read from its source, and the
# measurements behind each value). Only the throughput benchmark uses it.
FAST = ArgoSettings(workflow_workers=32, qps=1000, burst=2000)


def controller_objects(workflow_namespace: str,
                       settings: ArgoSettings = DEFAULT) -> list[Obj]:
    """Namespaces, the controller ConfigMap, and the executor Role Argo's
    install manifests give Workflow pods (bound to `default` there)."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CONTROLLER_NAMESPACE}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": workflow_namespace}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": CONFIGMAP, "namespace": CONTROLLER_NAMESPACE},
         "data": settings.configmap_data()},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "executor", "namespace": workflow_namespace},
         "rules": [{"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"],
                    "verbs": ["create", "patch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "executor-default", "namespace": workflow_namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": "executor"},
         "subjects": [{"kind": "ServiceAccount", "name": "default",
                       "namespace": workflow_namespace}]},
    ]


def start_controller(sup: Supervisor, bin_dir: Path, kubeconfig: Path,
                     settings: ArgoSettings = DEFAULT) -> Proc:
    return sup.start("workflow-controller", [
        str(bin_dir / "workflow-controller"), f"--kubeconfig={kubeconfig}",
        f"--namespace={CONTROLLER_NAMESPACE}", f"--configmap={CONFIGMAP}", *settings.argv(),
    ], env=settings.environment())


def wait_controller_ready(kube: Kube, proc: Proc, timeout: float = 60) -> None:
    """Ready = it has reconciled a Workflow to completion: a pod-less probe
    (a zero-length suspend) submitted now and seen Succeeded."""
    probe = kube.create({
        "apiVersion": WF_API, "kind": "Workflow",
        "metadata": {"generateName": "orch-ready-", "namespace": CONTROLLER_NAMESPACE},
        "spec": {"entrypoint": "ready",
                 "templates": [{"name": "ready", "suspend": {"duration": "0"}}]},
    })
    name = probe["metadata"]["name"]

    def done() -> bool:
        if not proc.alive():
            raise RuntimeError(f"workflow-controller exited:\n{proc.log_tail()}")
        wf = kube.get_custom(WF_API, "workflows", name, CONTROLLER_NAMESPACE)
        return (wf.get("status") or {}).get("phase") == "Succeeded"

    try:
        wait_for(done, "Argo to complete its readiness probe Workflow", timeout, 0.1)
    except TimeoutError as e:
        raise TimeoutError(f"{e}\n{proc.log_tail()}") from None
    client.CustomObjectsApi(kube.api).delete_namespaced_custom_object(
        "argoproj.io", "v1alpha1", CONTROLLER_NAMESPACE, "workflows", name)


def wait_for_workflow(kube: Kube, name: str, namespace: str, timeout: float = 60) -> Obj:
    """The Workflow once its phase is Succeeded, Failed or Error."""
    def done() -> Obj | None:
        wf = kube.get(WF_API, "Workflow", name, namespace)
        phase = ((wf or {}).get("status") or {}).get("phase")
        return wf if phase in DONE else None
    try:
        wf: Obj = wait_for(done, f"Workflow {namespace}/{name} to complete", timeout)
    except TimeoutError:
        last = kube.get(WF_API, "Workflow", name, namespace) or {}
        raise TimeoutError(f"Workflow {namespace}/{name} did not complete in {timeout:.0f}s; "
                           f"status: {last.get('status')}") from None
    return wf


def node_phases(workflow: Obj) -> dict[str, str]:
    """Phase of each node by displayName, the Workflow's own entry node excluded."""
    nodes: dict[str, Any] = (workflow.get("status") or {}).get("nodes") or {}
    name = workflow["metadata"]["name"]
    return {n["displayName"]: n["phase"] for n_id, n in nodes.items() if n_id != name}
