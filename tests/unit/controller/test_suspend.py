"""Setting a suspend node as `argo node set` / `argo resume` do (controller.suspend);
the e2e tests check the result on the real Argo."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from controller.suspend import (
    NodeUpdateError,
    NotSuspendedError,
    hydrated_nodes,
    set_suspend_node,
    whole_seconds,
)
from orchapi.argo import ACTOR_LABELS

NOW = "2026-01-01T00:00:05.123456Z"


def workflow(**nodes: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "wf", "resourceVersion": "7",
                         "labels": {"keep": "me", ACTOR_LABELS[0]: "alice",
                                    ACTOR_LABELS[3]: "Suspend"}},
            "spec": {"entrypoint": "main"},
            "status": {"phase": "Running", "nodes": {
                k: {"id": k, "name": f"wf.{k}", "displayName": k, "type": "Suspend",
                    "phase": "Running", "startedAt": "2026-01-01T00:00:00Z", **v}
                for k, v in nodes.items()}}}


def compress(nodes: dict[str, Any]) -> str:
    return base64.b64encode(gzip.compress(json.dumps(nodes).encode())).decode()


@pytest.mark.parametrize(("phase", "message"), [
    ("Succeeded", "approval policy p is approved"), ("Failed", "approval policy p is denied"),
    ("Error", ""),
])
def test_sets_phase_finished_at_and_message(phase: str, message: str) -> None:
    wf = workflow(gate={"message": "before"}, other={})
    out = set_suspend_node(wf, "gate", phase, message, NOW)
    node = out["status"]["nodes"]["gate"]
    assert node["phase"] == phase
    assert node["finishedAt"] == "2026-01-01T00:00:05Z"  # metav1.Time: whole seconds
    assert node["message"] == (message or "before")  # an empty message leaves it
    assert out["status"]["nodes"]["other"] == wf["status"]["nodes"]["other"]
    assert out["metadata"]["labels"] == {"keep": "me"}  # LabelActor without claims
    assert out["metadata"]["resourceVersion"] == "7"  # the PUT is conditional on it
    assert wf["status"]["nodes"]["gate"]["phase"] == "Running"  # the input is not changed


def test_finished_at_waits_for_task_results() -> None:
    out = set_suspend_node(workflow(gate={"taskResultSynced": False}), "gate", "Succeeded",
                           "", NOW)
    assert "finishedAt" not in out["status"]["nodes"]["gate"]  # NodePhase.Fulfilled(synced)


@pytest.mark.parametrize(("node", "why"), [
    pytest.param({"phase": "Succeeded"}, "phase Succeeded", id="already-resumed"),
    pytest.param({"phase": "Failed"}, "phase Failed", id="already-failed"),
    pytest.param({"type": "Pod"}, "phase Running", id="a-pod"),
])
def test_only_an_active_suspend_node(node: dict[str, Any], why: str) -> None:
    with pytest.raises(NotSuspendedError, match=why):
        set_suspend_node(workflow(gate=node), "gate", "Succeeded", "", NOW)
    with pytest.raises(NotSuspendedError, match="no such node"):
        set_suspend_node(workflow(gate=node), "gone", "Succeeded", "", NOW)


def test_compressed_nodes_are_read_and_left_uncompressed_when_small() -> None:
    wf = workflow(gate={})
    wf["status"]["compressedNodes"] = compress(wf["status"].pop("nodes"))
    out = set_suspend_node(wf, "gate", "Succeeded", "ok", NOW)
    assert "compressedNodes" not in out["status"]
    assert out["status"]["nodes"]["gate"]["phase"] == "Succeeded"


def test_nodes_are_compressed_again_when_the_workflow_is_large() -> None:
    big = {f"n{i}": {"phase": "Succeeded", "type": "Pod", "message": "x" * 200}
           for i in range(50)}
    wf = workflow(gate={}, **big)
    out = set_suspend_node(wf, "gate", "Failed", "denied", NOW, max_size=4000)
    assert "nodes" not in out["status"]
    assert hydrated_nodes(out["status"])["gate"]["phase"] == "Failed"
    with pytest.raises(NodeUpdateError, match="even with its nodes compressed"):
        set_suspend_node(wf, "gate", "Failed", "denied", NOW, max_size=300)


def test_offloaded_nodes_cannot_be_set() -> None:
    wf = workflow()
    wf["status"] = {"phase": "Running", "offloadNodeStatusVersion": "fnv:1"}
    with pytest.raises(NodeUpdateError, match="offloaded"):
        set_suspend_node(wf, "gate", "Succeeded", "", NOW)


def test_only_the_phases_argo_node_set_accepts() -> None:
    with pytest.raises(ValueError, match="Running"):
        set_suspend_node(workflow(gate={}), "gate", "Running", "", NOW)


@pytest.mark.parametrize(("given", "expected"), [
    ("2026-01-01T00:00:05Z", "2026-01-01T00:00:05Z"),
    ("2026-01-01T00:00:05.999Z", "2026-01-01T00:00:05Z"),
    ("2026-01-01T00:00:05+00:00", "2026-01-01T00:00:05Z"),
    ("2026-01-01T00:00:05.5+00:00", "2026-01-01T00:00:05Z"),
])
def test_whole_seconds(given: str, expected: str) -> None:
    assert whole_seconds(given) == expected
