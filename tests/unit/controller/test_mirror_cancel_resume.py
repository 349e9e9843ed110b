"""The mirror of a cancelled run and of a resumed one (contract §3), on Workflows
the real compiler emits and Argo-shaped nodes written by hand."""

from __future__ import annotations

from typing import Any

from compiler.emit import EmitSettings, emit_workflow
from controller.mirror import mirror_deleted, mirror_workflow
from orchapi.api import RESUMED_FROM_ANNOTATION
from orchapi.models import OrchestrationRun
from orchapi.semantics import argo_phase_agreement
from orchapi.vocabulary import ConditionStatus, RunPhase
from tests.unit.controller.helpers import (
    WF,
    compiled,
    container,
    node,
    orchestration,
    with_status,
)

NOW = "2026-01-01T00:02:00Z"


def table(mirror: Any) -> dict[str, tuple[str, str | None]]:
    return {s["name"]: (s["phase"], s.get("reason")) for s in mirror.step_statuses}


#  a -> b -> c      cancelled while b runs; x had failed before, y skipped for it
#  x -> y
STEPS = [container("a", []), container("b", ["a"]), container("c", ["b"]),
         container("x", []), container("y", ["x"])]


def test_a_cancelled_run_is_cancelled_before_argo_has_stopped_anything() -> None:
    wf = with_status(compiled(STEPS), "Running", [
        node("a", "Succeeded"), node("b", "Running"), node("x", "Failed", message="exit 1"),
        node("y", "Omitted")])
    mirror = mirror_workflow(wf, {}, NOW, cancelled=True)
    assert table(mirror) == {"a": ("Succeeded", None), "b": ("Failed", "Cancelled"),
                             "c": ("Skipped", "Cancelled"), "x": ("Failed", "StepFailed"),
                             "y": ("Skipped", "DependencyFailed")}
    assert mirror.phase == RunPhase.CANCELLED and mirror.finished_at == NOW
    succeeded = {c.type: c for c in mirror.conditions}["Succeeded"]
    assert (succeeded.status, succeeded.reason) == (ConditionStatus.FALSE, "Cancelled")


def test_once_argo_stopped_the_workflow_the_run_stays_cancelled() -> None:
    wf = with_status(compiled(STEPS), "Failed", [
        node("a", "Succeeded"), node("b", "Failed", message="Stopped with strategy 'Stop'"),
        node("c", "Omitted"), node("x", "Failed", message="exit 1"), node("y", "Omitted")])
    wf["spec"]["shutdown"] = "Stop"
    mirror = mirror_workflow(wf, {"finishedAt": "2026-01-01T00:01:00Z"}, NOW, cancelled=True)
    assert table(mirror) == {"a": ("Succeeded", None), "b": ("Failed", "Cancelled"),
                             "c": ("Skipped", "Cancelled"), "x": ("Failed", "StepFailed"),
                             "y": ("Skipped", "DependencyFailed")}
    assert mirror.phase == RunPhase.CANCELLED
    assert mirror.finished_at == "2026-01-01T00:01:00Z"  # the cancel's moment, kept
    agrees = {c.type: c for c in mirror.conditions}["ArgoPhaseAgrees"]
    assert agrees.status is ConditionStatus.TRUE  # Argo's Failed is what a stop gives


def finished(mirror: Any) -> dict[str, str | None]:
    return {s["name"]: s.get("finishedAt") for s in mirror.step_statuses}


def test_a_stopped_step_gets_the_runs_end_then_argos() -> None:
    """Contract §3: a stopped step gets its finishedAt, Argo's node's, else the time
    the run ended (issue 21: `orch get` counted its duration up to now)."""
    running = with_status(compiled(STEPS), "Running", [
        node("a", "Succeeded", finished="2026-01-01T00:00:05Z"), node("b", "Running"),
        node("x", "Failed", message="exit 1", finished="2026-01-01T00:00:03Z"),
        node("y", "Omitted", finished="2026-01-01T00:00:03Z")])
    first = mirror_workflow(running, {}, NOW, cancelled=True)
    assert first.finished_at == NOW
    assert finished(first) == {"a": "2026-01-01T00:00:05Z", "b": NOW, "c": None,
                               "x": "2026-01-01T00:00:03Z", "y": "2026-01-01T00:00:03Z"}
    # Once Argo has stopped the pod, its node's time is the step's.
    stopped = with_status(compiled(STEPS), "Failed", [
        node("a", "Succeeded", finished="2026-01-01T00:00:05Z"),
        node("b", "Failed", message="Stopped with strategy 'Stop'",
             finished="2026-01-01T00:02:04Z"),
        node("c", "Omitted"), node("x", "Failed", message="exit 1"), node("y", "Omitted")],
        shutdown="Stop")
    previous = {"finishedAt": first.finished_at, "stepStatuses": first.step_statuses}
    assert finished(mirror_workflow(stopped, previous, NOW, cancelled=True))["b"] == \
        "2026-01-01T00:02:04Z"


def test_a_running_step_of_a_deleted_workflow_ends_when_the_run_does() -> None:
    running = with_status(compiled(STEPS), "Running", [
        node("a", "Succeeded"), node("b", "Running")])
    before = mirror_workflow(running, {}, NOW)
    assert finished(before)["b"] is None
    later = "2026-01-01T00:09:00Z"
    gone = mirror_deleted({"phase": "Running", "stepStatuses": before.step_statuses,
                           "startedAt": "2026-01-01T00:00:00Z"}, later)
    assert table(gone)["b"] == ("Failed", "WorkflowEnded")
    assert (gone.finished_at, finished(gone)["b"]) == (later, later)
    assert finished(gone)["c"] is None  # never started: nothing to end


def test_a_cancel_after_the_run_ended_changes_nothing() -> None:
    wf = with_status(compiled(STEPS[:2]), "Succeeded", [
        node("a", "Succeeded"), node("b", "Succeeded")])
    assert mirror_workflow(wf, {}, NOW, cancelled=True).phase == RunPhase.SUCCEEDED


def test_reused_steps_keep_the_old_record_and_the_rest_runs() -> None:
    run = OrchestrationRun.model_validate({
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
        "metadata": {"name": WF, "namespace": "ns"},
        "spec": {"orchestrationRef": {"name": "o"}, "resumeFrom": {"name": "old"}}})
    wf = emit_workflow(orchestration(STEPS), run, settings=EmitSettings(reused={"a", "x"})).workflow
    wf["metadata"]["annotations"] = {RESUMED_FROM_ANNOTATION: "old"}
    old_a = {"name": "a", "kind": "Container", "phase": "Succeeded", "reason": "Reused",
             "message": 'reused from run "old"', "startedAt": "2025-12-31T10:00:00Z",
             "finishedAt": "2025-12-31T10:01:00Z", "attempt": 2}
    wf = with_status(wf, "Running", [node("a", "Succeeded"), node("x", "Succeeded"),
                                     node("b", "Running")])
    mirror = mirror_workflow(wf, {"stepStatuses": [old_a]}, NOW)
    assert table(mirror) == {"a": ("Succeeded", "Reused"), "b": ("Running", None),
                             "c": ("Pending", None), "x": ("Succeeded", "Reused"),
                             "y": ("Pending", None)}
    records = {s["name"]: s for s in mirror.step_statuses}
    assert records["a"] == old_a  # the no-op node's own times never replace the record
    assert records["x"]["message"] == 'reused from run "old"'
    assert "startedAt" not in records["x"]  # no record was written: none is made up


def test_argo_phase_agreement_of_a_cancelled_run() -> None:
    assert argo_phase_agreement(RunPhase.CANCELLED, "Failed").status is ConditionStatus.TRUE
    assert argo_phase_agreement(RunPhase.CANCELLED, "Succeeded").status is \
        ConditionStatus.FALSE
