"""Kubernetes condition semantics: lastTransitionTime moves only with status."""

from __future__ import annotations

from controller.conditions import find_condition, is_true, set_condition, set_conditions
from orchapi.semantics import DecidedCondition
from orchapi.vocabulary import ConditionStatus

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"
RUNNING = DecidedCondition("Succeeded", ConditionStatus.UNKNOWN, "Running", "0 of 2 steps done")


def test_new_condition_gets_now_and_generation() -> None:
    out = set_condition([], RUNNING, 3, T0)
    assert out == [{"type": "Succeeded", "status": "Unknown", "reason": "Running",
                    "message": "0 of 2 steps done", "lastTransitionTime": T0,
                    "observedGeneration": 3}]


def test_same_status_keeps_transition_time_but_takes_new_message() -> None:
    first = set_condition([], RUNNING, 1, T0)
    later = DecidedCondition("Succeeded", ConditionStatus.UNKNOWN, "Running", "1 of 2 steps done")
    out = set_condition(first, later, 1, T1)
    assert out[0]["lastTransitionTime"] == T0
    assert out[0]["message"] == "1 of 2 steps done"


def test_status_change_moves_transition_time() -> None:
    first = set_condition([], RUNNING, 1, T0)
    done = DecidedCondition("Succeeded", ConditionStatus.TRUE, "AllStepsSucceeded", "all 2")
    out = set_condition(first, done, 1, T1)
    assert out[0]["lastTransitionTime"] == T1
    assert is_true(out, "Succeeded")


def test_other_types_are_kept_in_place_and_recomputing_is_idempotent() -> None:
    submitted = DecidedCondition("Submitted", ConditionStatus.TRUE, "WorkflowCreated", "exists")
    out = set_conditions(None, (submitted, RUNNING), 1, T0)
    again = set_conditions(out, (submitted, RUNNING), 1, T1)
    assert again == out
    assert [c["type"] for c in out] == ["Submitted", "Succeeded"]
    assert find_condition(out, "Missing") is None
