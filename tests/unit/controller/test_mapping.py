"""Events -> queue keys."""

from __future__ import annotations

from controller.mapping import RUN, Key, is_own_write, keys_for

OWNED = {"metadata": {"name": "wf", "namespace": "ns", "labels": {
    "orchestration.proompteng.ai/run": "label-run"}, "ownerReferences": [
    {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "1"},
    {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
     "name": "r", "uid": "2", "controller": True}]}}


def test_workflow_maps_to_its_controlling_run() -> None:
    assert keys_for("Workflow", OWNED) == [Key(RUN, "ns", "r")]


def test_unowned_workflow_maps_by_run_label() -> None:
    wf = {"metadata": {"name": "wf", "namespace": "ns",
                       "labels": {"orchestration.proompteng.ai/run": "r2"}}}
    assert keys_for("Workflow", wf) == [Key(RUN, "ns", "r2")]
    assert keys_for("Workflow", {"metadata": {"name": "x", "namespace": "ns"}}) == []


def test_runs_and_orchestrations_map_to_themselves() -> None:
    obj = {"metadata": {"name": "a", "namespace": "ns"}}
    assert keys_for("OrchestrationRun", obj) == [Key("OrchestrationRun", "ns", "a")]
    assert keys_for("Orchestration", obj) == [Key("Orchestration", "ns", "a")]


def test_own_write_is_recognised_by_resource_version() -> None:
    key = Key(RUN, "ns", "a")
    obj = {"metadata": {"name": "a", "namespace": "ns", "resourceVersion": "42"}}
    assert is_own_write(key, obj, {key: "42"})
    assert not is_own_write(key, obj, {key: "41"})
    assert not is_own_write(key, obj, {})
