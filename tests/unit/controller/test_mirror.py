"""The status mirror on hand-written Argo node maps (contract §5 table)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.mirror import (
    decode_nodes,
    graph_from_workflow,
    mirror_deleted,
    mirror_workflow,
    pending_statuses,
)
from tests.unit.controller.helpers import compiled, container, node, with_status

NOW = "2026-01-01T00:02:00Z"

#   a
#  / \
# b   c
#  \ /
#   d
DIAMOND = [container("a", []), container("b", ["a"]), container("c", ["a"]),
           container("d", ["b", "c"])]


def steps(m: Any) -> dict[str, tuple[str, str | None]]:
    return {s["name"]: (s["phase"], s.get("reason")) for s in m.step_statuses}


def condition(m: Any, type_: str) -> tuple[str, str]:
    c = next(c for c in m.conditions if c.type == type_)
    return str(c.status), c.reason


@pytest.mark.parametrize("compress", [False, True], ids=["nodes", "compressedNodes"])
def test_diamond_one_branch_fails(compress: bool) -> None:
    wf = with_status(compiled(DIAMOND), "Failed", [
        node("a", "Succeeded"), node("b", "Failed", message="Error (exit code 1)"),
        node("c", "Succeeded"), node("d", "Omitted", message="omitted: depends condition not met"),
    ], compress=compress)
    m = mirror_workflow(wf, {}, NOW)
    assert steps(m) == {"a": ("Succeeded", None), "b": ("Failed", "StepFailed"),
                        "c": ("Succeeded", None), "d": ("Skipped", "DependencyFailed")}
    assert m.phase == "Failed"
    assert condition(m, "Succeeded") == ("False", "StepsFailed")
    assert condition(m, "Submitted") == ("True", "WorkflowCreated")
    assert m.progress == "4/4"
    assert m.finished_at == NOW or m.finished_at == "2026-01-01T00:01:00Z"
    kinds = {s["name"]: s["kind"] for s in m.step_statuses}
    assert kinds == dict.fromkeys("abcd", "Container")


def test_continue_on_failure_lets_dependents_run() -> None:
    spec = [container("a", []), container("b", ["a"], continueOnFailure=True),
            container("c", ["a"]), container("d", ["b", "c"])]
    wf = with_status(compiled(spec), "Succeeded", [
        node("a", "Succeeded"), node("b", "Failed", message="Error (exit code 1)"),
        node("c", "Succeeded"), node("d", "Succeeded")])
    m = mirror_workflow(wf, {}, NOW)
    assert steps(m)["b"] == ("Failed", "FailureIgnored")
    assert steps(m)["d"] == ("Succeeded", None)
    assert m.phase == "Succeeded"
    assert condition(m, "Succeeded") == ("True", "FailuresIgnored")
    assert "1 failure (b) ignored" in next(c.message for c in m.conditions
                                          if c.type == "Succeeded")


def test_running_lists_every_step_and_no_node_is_pending() -> None:
    wf = with_status(compiled(DIAMOND), "Running", [node("a", "Succeeded"), node("b", "Running"),
                                                    node("c", "Pending")])
    m = mirror_workflow(wf, {}, NOW)
    assert steps(m) == {"a": ("Succeeded", None), "b": ("Running", None),
                        "c": ("Pending", None), "d": ("Pending", None)}
    assert m.phase == "Running"
    assert condition(m, "Succeeded") == ("Unknown", "Running")
    assert m.finished_at is None
    assert m.progress == "1/4"


@pytest.mark.parametrize(("phase", "message", "expected"), [
    pytest.param("Failed", "Error (exit code 1)", ("Failed", "StepFailed"), id="failed"),
    pytest.param("Failed", "Pod was active on the node longer than the specified deadline",
                 ("Failed", "StepTimedOut"), id="timeout"),
    pytest.param("Error", "pod deleted", ("Failed", "StepError"), id="error"),
    pytest.param("Failed", "Stopped with strategy 'Terminate'", ("Failed", "WorkflowEnded"),
                 id="shutdown"),
])
def test_argo_phase_to_step(phase: str, message: str, expected: tuple[str, str]) -> None:
    wf = with_status(compiled([container("a")]), "Failed", [node("a", phase, message=message)])
    assert steps(mirror_workflow(wf, {}, NOW))["a"] == expected


def test_error_is_not_covered_by_continue_on_failure() -> None:
    spec = [container("a", [], continueOnFailure=True), container("b", ["a"])]
    wf = with_status(compiled(spec), "Error", [node("a", "Error", message="pod deleted"),
                                                node("b", "Omitted")])
    m = mirror_workflow(wf, {}, NOW)
    assert steps(m) == {"a": ("Failed", "StepError"), "b": ("Skipped", "DependencyFailed")}
    assert m.phase == "Failed"


def test_retry_node_counts_attempts() -> None:
    spec = [container("a", [], retries=2)]
    wf = with_status(compiled(spec), "Succeeded", [
        node("a", "Succeeded", type_="Retry", children=["x0", "x1", "x2"]),
        node("a(0)", "Failed"), node("a(1)", "Failed"), node("a(2)", "Succeeded")])
    m = mirror_workflow(wf, {}, NOW)
    assert m.step_statuses[0]["attempt"] == 3
    assert steps(m) == {"a": ("Succeeded", None)}


def test_only_nodes_inside_the_entry_boundary_count() -> None:
    spec = [container("a", []), container("b", ["a"])]
    wf = with_status(compiled(spec), "Running", [
        node("a", "Running"), node("b", "Failed", boundary="some-inner-dag")])
    assert steps(mirror_workflow(wf, {}, NOW)) == {"a": ("Running", None), "b": ("Pending", None)}


def test_workflow_ended_early_resolves_steps_without_nodes() -> None:
    spec = [container("a", []), container("b", ["a"])]
    wf = with_status(compiled(spec), "Failed", [
        node("a", "Failed", message="Stopped with strategy 'Stop'")])
    m = mirror_workflow(wf, {}, NOW)
    assert steps(m) == {"a": ("Failed", "WorkflowEnded"), "b": ("Skipped", "WorkflowEnded")}
    assert condition(m, "Succeeded") == ("False", "WorkflowEnded")


def test_argo_skipped_keeps_argos_message_as_reason() -> None:
    wf = with_status(compiled([container("a")]), "Succeeded", [
        node("a", "Skipped", message="when 'false' evaluated false")])
    assert steps(mirror_workflow(wf, {}, NOW))["a"] == ("Skipped",
                                                        "when 'false' evaluated false")


def test_offloaded_node_status_is_a_condition_not_a_guess() -> None:
    wf = compiled(DIAMOND)
    wf["status"] = {"phase": "Running", "offloadNodeStatusVersion": "fnv:123"}
    assert decode_nodes(wf["status"]) is None
    listed = pending_statuses(graph_from_workflow(wf))
    listed[0] = {**listed[0], "phase": "Succeeded"}
    previous: dict[str, Any] = {"phase": "Running", "stepStatuses": listed}
    m = mirror_workflow(wf, previous, NOW)
    assert m.step_statuses == previous["stepStatuses"]
    assert condition(m, "NodeStatusAvailable") == ("False", "NodeStatusOffloaded")
    assert condition(m, "Succeeded") == ("Unknown", "NodeStatusOffloaded")
    assert m.phase == "Running"


def test_deleted_workflow_ends_the_run() -> None:
    wf = with_status(compiled(DIAMOND), "Running", [
        node("a", "Succeeded"), node("b", "Failed"), node("c", "Running")])
    before = mirror_workflow(wf, {}, NOW)
    assert steps(before)["d"] == ("Skipped", "DependencyFailed")
    previous = {"phase": "Running", "stepStatuses": before.step_statuses,
                "startedAt": "2026-01-01T00:00:00Z"}
    m = mirror_deleted(previous, NOW)
    assert steps(m) == {"a": ("Succeeded", None), "b": ("Failed", "StepFailed"),
                        "c": ("Failed", "WorkflowEnded"), "d": ("Skipped", "DependencyFailed")}
    assert m.phase == "Failed"
    assert condition(m, "Submitted") == ("False", "WorkflowDeleted")
    assert condition(m, "Succeeded") == ("False", "WorkflowEnded")
    assert m.finished_at == NOW


def test_deleted_before_any_step_ran() -> None:
    wf = compiled(DIAMOND)
    previous = {"phase": "Running", "stepStatuses": pending_statuses(graph_from_workflow(wf))}
    m = mirror_deleted(previous, NOW)
    assert set(steps(m).values()) == {("Skipped", "WorkflowEnded")}
    assert m.phase == "Failed"


def test_sequential_graph_is_read_from_the_workflow() -> None:
    spec = [container("one"), container("two"), container("three")]
    g = graph_from_workflow(compiled(spec))
    assert [(n.name, n.dependencies) for n in g.nodes] == [
        ("one", ()), ("two", ("one",)), ("three", ("two",))]
