"""The controller from the built image, against the real cluster, as the chart's pod.

Why: the subprocess controller (tests/e2e/test_chart.py) proves the code and the
chart's RBAC; only running the image proves the image: its entrypoint, its
interpreter and libraries, its user, and that it works on a read-only root
filesystem. Two containers of the image run at once (each its own release and
namespace of runs, so each its own Lease):
- `chart`: everything from the rendered Deployment: args, env, the
  readOnlyRootFilesystem and the emptyDir /tmp, the ServiceAccount's token at
  its in-cluster path (the kubernetes client's in-cluster config, as in a pod);
- `writable`: the same with a writable root, whose filesystem is compared before
  and after, to show that the controller writes nothing outside /tmp (on the
  read-only root a write would fail, maybe silently, and show nothing). As uid
  65532 over root-owned files it could only write where anyone may (/var/tmp,
  /var/lock, ...); the comparison covers the whole tree all the same. (Checked by
  hand that it sees writes: the same run as root after deleting a .pyc shows the
  recreated `__pycache__/cli.cpython-311.pyc`.)
Both reconcile a diamond to Succeeded on the real Argo, serve /readyz and
/metrics, and exit 0 on SIGTERM.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from kubernetes import client

from image.build import Built
from image.buildah import Buildah
from orchapi.api import API_VERSION, Obj
from tests.chart import apiserver, helm, rbac
from tests.chart.helm import by_kind, container_env
from tests.cluster import Cluster
from tests.cluster.kube import wait_for
from tests.cluster.procs import free_port
from tests.image.fixtures import built_image
from tests.image.runtime import (
    SA_DIR,
    Container,
    Mount,
    PodSpec,
    http_get,
    runtime_changes,
    stop_quietly,
    tree,
)

pytestmark = [pytest.mark.e2e, pytest.mark.image]
__all__ = ["built_image"]  # a fixture, imported to be found by pytest

API = API_VERSION
SA_NAME = "orch"  # the chart's ServiceAccount (its full name for release "orch")


@dataclass
class ImagePod:
    """One container of the image, started from a rendered Deployment."""

    name: str
    release_ns: str
    runs_ns: str
    container: Container
    port: int
    read_only: bool
    tmp: Path
    mounts: list[Mount] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)


def service_account_files(cluster: Cluster, namespace: str, path: Path) -> Path:
    """What the kubelet projects at SA_DIR: a bound token, the CA, the namespace."""
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(
        audiences=["https://kubernetes.default.svc.cluster.local"], expiration_seconds=3600))
    status = client.CoreV1Api(cluster.api_client).create_namespaced_service_account_token(
        SA_NAME, namespace, request).status
    assert status is not None and status.token
    cluster_entry = yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]
    path.mkdir(parents=True)
    (path / "token").write_text(status.token)
    (path / "ca.crt").write_bytes(Path(cluster_entry["certificate-authority"]).read_bytes())
    (path / "namespace").write_text(namespace)
    return path


def start_pod(cluster: Cluster, tools_bin: Path, built: Built, work: Path, name: str,
              writable_root: bool) -> ImagePod:
    release_ns, runs_ns = f"orch-image-{name}", f"orch-image-{name}-runs"
    objs = helm.template(tools_bin, ["--set", f"orchestrationController.namespaces={{{runs_ns}}}"],
                         namespace=release_ns)
    apiserver.ensure_namespaces(cluster.kube, [release_ns, runs_ns])
    for obj in objs:
        if obj["kind"] in ("ServiceAccount", "Role", "RoleBinding"):
            answer = apiserver.apply(cluster.kube, obj, dry_run=False)
            assert answer.clean, f"{answer.ref}: {answer.error or answer.warnings}"
    deployment = by_kind(objs, "Deployment")[0]
    pod_spec = deployment["spec"]["template"]["spec"]
    spec = pod_spec["containers"][0]
    assert spec["image"] == built.tag  # the chart pulls what `make image` built
    read_only = bool(spec["securityContext"]["readOnlyRootFilesystem"]) and not writable_root

    port = free_port()
    env = container_env(deployment)
    env["POD_NAMESPACE"] = release_ns  # its fieldRef
    env["ORCH_HTTP_PORT"] = str(port)  # the host's network is shared: a free port
    api = urlparse(yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]
                   ["server"])
    env |= {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api.port)}

    sa = service_account_files(cluster, release_ns, work / "serviceaccount")
    mounts = [Mount(str(sa), SA_DIR)]
    empty_dirs = {v["name"] for v in pod_spec.get("volumes") or () if "emptyDir" in v}
    tmp = work / "tmp"
    for mount in spec.get("volumeMounts") or ():
        assert mount["name"] in empty_dirs, mount
        tmp.mkdir(mode=0o777)
        tmp.chmod(0o777)  # an emptyDir: writable by the pod's user
        mounts.append(Mount(str(tmp), mount["mountPath"], read_only=False))
    assert [m.destination for m in mounts] == [SA_DIR, "/tmp"]
    container = Container(Buildah(), built.ref, f"orch-image-{name}-{os.getpid()}", work)
    pod = ImagePod(name, release_ns, runs_ns, container, port, read_only, tmp, mounts)
    if writable_root:
        pod.before = tree(container.rootfs)
    container.start(PodSpec(args=spec["args"], env=env, read_only_root=read_only,
                            mounts=mounts))
    return pod


def wait_ready(pod: ImagePod) -> None:
    def ready() -> bool:
        code = pod.container.exited()
        if code is not None:
            raise AssertionError(f"{pod.name} exited {code}:\n{pod.container.tail()}")
        return http_get(pod.port, "/readyz")[0] == 200
    wait_for(ready, f"{pod.name}: /readyz", 60, 0.2)


def process_status(pod: ImagePod) -> tuple[dict[str, str], str]:
    """/proc status of the container's process (found through runc) and the mount
    options of its root."""
    state = json.loads(subprocess.run(
        ["runc", "--root", str(pod.container.state), "state", pod.container.name],
        capture_output=True, text=True, check=True).stdout)
    status = dict(line.split(":\t", 1) for line in
                  Path(f"/proc/{state['pid']}/status").read_text().splitlines() if ":\t" in line)
    root = next(line.split() for line in
                Path(f"/proc/{state['pid']}/mountinfo").read_text().splitlines()
                if line.split()[4] == "/")
    return status, root[5]


def diamond(namespace: str) -> list[Obj]:
    def step(name: str, deps: list[str]) -> Obj:
        return {"name": name, "kind": "Container", "image": "alpine:3.20",
                "command": ["sh", "-c", f"echo {name}"], "dependsOn": deps}
    return [{"apiVersion": API, "kind": "Orchestration",
             "metadata": {"name": "diamond", "namespace": namespace},
             "spec": {"steps": [step("a", []), step("b", ["a"]), step("c", ["a"]),
                                step("d", ["b", "c"])]}},
            {"apiVersion": API, "kind": "OrchestrationRun",
             "metadata": {"name": "from-image", "namespace": namespace},
             "spec": {"orchestrationRef": {"name": "diamond"}}}]


def run_status(cluster: Cluster, namespace: str) -> Obj:
    obj = cluster.kube.get(API, "OrchestrationRun", "from-image", namespace) or {}
    status: Obj = obj.get("status") or {}
    return status


def test_the_image_runs_the_controller_as_the_charts_pod(
        cluster: Cluster, tools_bin: Path, built_image: Built, tmp_path: Path) -> None:
    pods: list[ImagePod] = []
    try:
        for name, writable_root in (("chart", False), ("writable", True)):
            pods.append(start_pod(cluster, tools_bin, built_image, tmp_path / name, name,
                                  writable_root))
        for pod in pods:
            wait_ready(pod)
            status, root_options = process_status(pod)
            assert status["Uid"].split()[:2] == ["65532", "65532"], status["Uid"]
            assert status["Gid"].split()[:2] == ["65532", "65532"], status["Gid"]
            assert (status["CapEff"], status["NoNewPrivs"]) == ("0000000000000000", "1")
            assert root_options.split(",")[0] == ("ro" if pod.read_only else "rw")
            for obj in diamond(pod.runs_ns):
                cluster.kube.apply(obj)
        for pod in pods:
            def succeeded(p: ImagePod = pod) -> bool:
                return run_status(cluster, p.runs_ns).get("phase") == "Succeeded"
            try:
                wait_for(succeeded, f"{pod.name}: the diamond Succeeded", 90, 0.2)
            except TimeoutError as e:
                raise AssertionError(f"{e}: {run_status(cluster, pod.runs_ns)}\n"
                                     f"{pod.container.tail()}") from None
            steps = {s["name"]: s["phase"] for s in run_status(cluster, pod.runs_ns)
                     ["stepStatuses"]}
            assert steps == dict.fromkeys("abcd", "Succeeded")
            code, metrics = http_get(pod.port, "/metrics")
            assert code == 200
            assert 'controller_runtime_reconcile_total{controller="orchestration"' in metrics
            # It authenticated as the chart's ServiceAccount, with the mounted token.
            user = rbac.username(pod.release_ns, SA_NAME)
            assert any(r.access is not None and r.access.verb == "create"
                       and r.access.resource == "workflows"
                       for r in rbac.observed(cluster.audit_log, user))
        for pod in pods:
            t0 = time.monotonic()
            assert pod.container.terminate() == 0, pod.container.tail()
            print(f"\n{pod.name}: exited 0 {time.monotonic() - t0:.1f} s after SIGTERM; "
                  f"/tmp holds {sorted(p.name for p in pod.tmp.iterdir())}")
        writable = pods[1]
        written = runtime_changes(writable.before, tree(writable.container.rootfs),
                                  [m.destination for m in writable.mounts]
                                  + ["/etc/resolv.conf", "/etc/hosts"])
        assert written == []
    finally:
        for pod in pods:
            stop_quietly(pod.container)
