"""Events from a status change: what `kubectl describe` shows, aggregated so a run
whose 200 steps fail records one StepFailed Event, not 200."""

from __future__ import annotations

from controller.events import STEPS_NAMED, Event, events_for
from orchapi.api import Obj


def steps(**phases: tuple[str, str | None]) -> list[Obj]:
    return [{"name": n, "phase": p, "reason": r, "message": f"{n} said no"}
            for n, (p, r) in phases.items()]


def test_one_failed_step_is_named_with_its_reason_and_message() -> None:
    old = {"stepStatuses": steps(a=("Running", None))}
    new = {"stepStatuses": steps(a=("Failed", "StepFailed"))}
    assert events_for(old, new) == [Event("Warning", "StepFailed",
                                          "step a: StepFailed: a said no")]


def test_many_failed_steps_make_one_event_naming_a_few() -> None:
    new = {"stepStatuses": [{"name": f"s{i}", "phase": "Failed", "reason": "StepFailed"}
                            for i in range(200)]}
    (event,) = events_for({}, new)
    assert event.reason == "StepFailed"
    assert event.message.startswith("200 steps failed: s0 (StepFailed), s1 (StepFailed)")
    assert event.message.endswith(f"and {200 - STEPS_NAMED} more")
    assert f"s{STEPS_NAMED}" not in event.message.split(" and ")[0]


def test_steps_already_failed_are_not_reported_again() -> None:
    old = {"stepStatuses": steps(a=("Failed", "StepFailed"), b=("Running", None))}
    new = {"stepStatuses": steps(a=("Failed", "StepFailed"), b=("Succeeded", None))}
    assert events_for(old, new) == []


def test_submission_refused_and_run_finished() -> None:
    refused = {"conditions": [{"type": "Submitted", "status": "False",
                               "reason": "WorkflowCreateFailed", "message": "quota"}]}
    assert events_for({}, refused) == [Event("Warning", "WorkflowCreateFailed", "quota")]
    assert events_for(refused, refused) == []  # the same refusal again: no new Event
    done = {"phase": "Succeeded", "conditions": [
        {"type": "Succeeded", "status": "True", "reason": "AllStepsSucceeded",
         "message": "4 steps succeeded"}]}
    assert events_for({"phase": "Running"}, done) == [
        Event("Normal", "RunSucceeded", "4 steps succeeded")]
