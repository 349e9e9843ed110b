"""`controller.suspend` writes what the `argo` CLI writes, on the real Argo.

Two identical Workflows wait in a suspend node (`suspend: {}`, no duration); one
is released by `argo node set` / `argo resume` (argo v4.0.5, in kube mode, so
exactly `workflow/util/util.go` updateSuspendedNode), the other by the controller's
pure function and a PUT. The nodes written, and how Argo's controller then runs
the rest of each Workflow, must be the same. Argo refuses a template `timeout` on a
suspend node (and a `suspend.duration` would succeed on expiry), which is why the
controller, not Argo, enforces a wait's timeoutSeconds.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from controller.suspend import set_suspend_node
from orchapi.api import Obj
from orchapi.argo import ARGO_API_VERSION
from tests.cluster import Cluster
from tests.cluster.kube import wait_for

pytestmark = pytest.mark.e2e
WF_API = ARGO_API_VERSION
VOLATILE = ("id", "name", "startedAt", "finishedAt", "boundaryID", "children",
            "outboundNodes", "resourcesDuration", "progress", "estimatedDuration",
            "templateScope")


def waiting_workflow(name: str, timeout: str | None = None) -> Obj:
    gate: Obj = {"name": "gate", "inputs": {"parameters": [{"name": "wait"}]}, "suspend": {}}
    if timeout:
        gate["timeout"] = timeout
    return {"apiVersion": WF_API, "kind": "Workflow", "metadata": {"name": name},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "dag": {"failFast": False, "tasks": [
                    {"name": "gate", "template": "gate", "arguments": {"parameters": [
                        {"name": "wait", "value": '{"kind":"ApprovalGate","policy":"p"}'}]}},
                    {"name": "after", "template": "noop", "dependencies": ["gate"]}]}},
                gate,
                {"name": "noop", "suspend": {"duration": "0"}}]}}


def gate_node(wf: Obj) -> tuple[str, Obj]:
    for node_id, node in ((wf.get("status") or {}).get("nodes") or {}).items():
        if node.get("displayName") == "gate":
            return node_id, node
    raise AssertionError("no gate node")


def wait_gate_running(cluster: Cluster, name: str) -> Obj:
    def running() -> Obj | None:
        wf = cluster.kube.get(WF_API, "Workflow", name, cluster.namespace) or {}
        nodes = (wf.get("status") or {}).get("nodes") or {}
        return wf if any(n.get("displayName") == "gate" and n.get("phase") == "Running"
                         for n in nodes.values()) else None
    found: Obj = wait_for(running, f"{name}: gate waiting", 60, 0.2)
    return found


def argo(cluster: Cluster, *args: str) -> str:
    result = subprocess.run([str(cluster.bin_dir / "argo"), "-n", cluster.namespace, *args],
                            capture_output=True, text=True, timeout=60,
                            env={**cluster.env(), "PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def release_by_orch(cluster: Cluster, name: str, phase: str, message: str) -> None:
    """What the controller does: read, set the node, PUT; again on a conflict."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    api = client.CustomObjectsApi(cluster.api_client)
    for _ in range(10):
        wf: Obj = api.get_namespaced_custom_object(  # type: ignore[assignment]
            "argoproj.io", "v1alpha1", cluster.namespace, "workflows", name)
        node_id, _ = gate_node(wf)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = set_suspend_node(wf, node_id, phase, message, now)
        try:
            api.replace_namespaced_custom_object("argoproj.io", "v1alpha1", cluster.namespace,
                                                 "workflows", name, body)
            return
        except ApiException as e:
            if e.status != 409:
                raise
    raise AssertionError(f"{name}: conflicts did not stop")


def shape(wf: Obj) -> dict[str, Any]:
    """The Workflow's outcome with what differs between two runs left out."""
    nodes = {n["displayName"]: {k: v for k, v in n.items() if k not in VOLATILE}
             for n in wf["status"]["nodes"].values() if n.get("displayName") != wf[
                 "metadata"]["name"]}
    return {"phase": wf["status"]["phase"], "nodes": nodes}


@pytest.mark.parametrize(("phase", "message", "cli"), [
    pytest.param("Failed", "approval policy p is denied",
                 ["node", "set", "--phase", "Failed", "--message", "approval policy p is denied",
                  "--node-field-selector", "displayName=gate"], id="node-set-failed"),
    pytest.param("Succeeded", "", ["resume", "--node-field-selector", "displayName=gate"],
                 id="resume"),
])
def test_orch_writes_what_argo_writes(cluster: Cluster, phase: str, message: str,
                                      cli: list[str]) -> None:
    suffix = uuid.uuid4().hex[:6]
    by_cli, by_orch = f"sus-cli-{suffix}", f"sus-orch-{suffix}"
    for name in (by_cli, by_orch):
        cluster.kube.apply(waiting_workflow(name), cluster.namespace)
    for name in (by_cli, by_orch):
        wait_gate_running(cluster, name)
    # No pod waits: a suspend node is the controller's own bookkeeping.
    pods = cluster.kube.list_objects("v1", "Pod", cluster.namespace,
                                     f"workflows.argoproj.io/workflow in ({by_cli},{by_orch})")
    assert pods == []
    with ThreadPoolExecutor(2) as pool:
        cli_done = pool.submit(argo, cluster, *cli, by_cli)
        orch_done = pool.submit(release_by_orch, cluster, by_orch, phase, message)
        cli_done.result()
        orch_done.result()
    ended = {name: cluster.wait_for_workflow(name) for name in (by_cli, by_orch)}
    cli_shape, orch_shape = shape(ended[by_cli]), shape(ended[by_orch])
    assert cli_shape["phase"] == orch_shape["phase"]
    assert sorted(cli_shape["nodes"]) == sorted(orch_shape["nodes"])
    if not message:  # `argo resume` writes who resumed it: "Resumed by: map[User:...]"
        cli_shape["nodes"]["gate"].pop("message", None)
    for step, node in cli_shape["nodes"].items():
        assert node == orch_shape["nodes"][step], step
    _, gate = gate_node(ended[by_orch])
    assert gate["phase"] == phase
    assert gate.get("message", "") == message
    assert gate["finishedAt"].endswith("Z") and "." not in gate["finishedAt"]


def test_argo_refuses_a_timeout_on_a_suspend_node(cluster: Cluster) -> None:
    """workflow/validate/validate.go (v4.0.5 l.509): `timeout` only on leaf templates
    (container, script, resource, ...), so a wait cannot carry one for Argo to apply."""
    name = f"sus-timeout-{uuid.uuid4().hex[:6]}"
    cluster.kube.apply(waiting_workflow(name, timeout="3s"), cluster.namespace)
    wf = cluster.wait_for_workflow(name)
    assert wf["status"]["phase"] in ("Error", "Failed")
    assert "Suspend template doesn't support timeout field" in wf["status"]["message"]
    assert not (wf["status"].get("nodes") or {})
