"""Orchestration objects from the cluster -> Ready condition (contract §2.4)."""

from __future__ import annotations

from typing import Any

from controller.orchestrations import orchestration_status

NOW = "2026-01-01T00:00:00Z"


def cluster_object(steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
            "metadata": {"name": "o", "namespace": "ns", "generation": 2, "uid": "u",
                         "resourceVersion": "7", "managedFields": [{"manager": "kubectl"}],
                         "creationTimestamp": NOW},
            "spec": {"steps": steps}}


def test_valid() -> None:
    s = orchestration_status(cluster_object([{"name": "a", "kind": "Checkpoint"}]), NOW)
    assert s["phase"] == "Ready" and s["observedGeneration"] == 2
    assert [(c["type"], c["status"], c["reason"]) for c in s["conditions"]] == [
        ("Ready", "True", "Valid")]


def test_cycle_names_the_path_and_every_problem_is_listed() -> None:
    steps = [{"name": "a", "kind": "Checkpoint", "dependsOn": ["c"]},
             {"name": "b", "kind": "Checkpoint", "dependsOn": ["a"]},
             {"name": "c", "kind": "Checkpoint", "dependsOn": ["b"]},
             {"name": "d", "kind": "Checkpoint", "dependsOn": ["bb"]}]
    s = orchestration_status(cluster_object(steps), NOW)
    (ready,) = s["conditions"]
    assert s["phase"] == "Invalid"
    assert (ready["status"], ready["reason"]) == ("False", "DependencyCycle")
    assert ready["message"] == (
        "spec.steps[0].dependsOn[0]: dependency cycle: a -> c -> b -> a "
        "(each step depends on the next; break one edge); "
        'spec.steps[3].dependsOn[0]: step "bb" does not exist (did you mean "b"?)')
