"""The run's step records within 256 KiB (controller.step_budget, contract §8):
complete while they fit, then every step that has not succeeded plus counts by
phase and reason, then the most useful of those; sizes at the budget's edge."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.step_budget import (
    STEP_STATUS_BUDGET,
    BudgetedSteps,
    budget_steps,
    count_steps,
    list_size,
    record_size,
)
from orchapi.api import Obj


def record(i: int, phase: str, reason: str | None = None, message: str = "") -> Obj:
    out: Obj = {"name": f"s{i:05d}", "kind": "Container", "phase": phase}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def size_of(records: list[Obj]) -> int:
    return len(json.dumps(records, separators=(",", ":"), ensure_ascii=False).encode())


def padded_to(records: list[Obj], total: int) -> list[Obj]:
    """The records with the last one's message padded so the list is `total` bytes."""
    last = dict(records[-1])
    last["message"] = last.get("message", "") + "x" * (total - size_of(records)
                                                       - (0 if "message" in last else 13))
    out = [*records[:-1], last]
    assert size_of(out) == total
    return out


def test_sizes_are_the_stored_json() -> None:
    records = [record(1, "Succeeded", message="déjà vu"), record(2, "Failed", "StepFailed")]
    assert list_size([record_size(r) for r in records]) == size_of(records)
    assert list_size([]) == size_of([]) == 2


@pytest.mark.parametrize(("over", "listed", "counted"), [
    pytest.param(-1, 1201, False, id="a byte under: every step"),
    pytest.param(0, 1201, False, id="exactly the budget: every step"),
    pytest.param(1, 201, True, id="a byte over: the steps not succeeded, and counts"),
])
def test_the_edge_of_the_budget(over: int, listed: int, counted: bool) -> None:
    records = ([record(i, "Succeeded") for i in range(1000)]
               + [record(1000 + i, "Skipped", "DependencyFailed") for i in range(200)]
               + [record(1200, "Failed", "StepFailed")])
    records = padded_to(records, STEP_STATUS_BUDGET + over)
    out = budget_steps(records)
    assert len(out.step_statuses) == listed
    assert (out.step_counts is not None) == counted
    assert out.lists_every_unsucceeded
    if counted:
        assert out.step_counts == [
            {"phase": "Succeeded", "count": 1000},
            {"phase": "Failed", "reason": "StepFailed", "count": 1},
            {"phase": "Skipped", "reason": "DependencyFailed", "count": 200}]
        assert all(r["phase"] != "Succeeded" for r in out.step_statuses)


def test_when_even_the_unsucceeded_do_not_fit_failures_and_running_come_first() -> None:
    """10,000 steps, one failure and 9,000 steps skipped for it, long messages."""
    message = "dependency \"s00000\" failed " + "·" * 200
    records = ([record(0, "Failed", "StepFailed", "exit code 1")]
               + [record(i, "Running") for i in range(1, 11)]
               + [record(i, "Succeeded") for i in range(11, 1000)]
               + [record(i, "Skipped", "DependencyFailed", message) for i in range(1000, 10_000)]
               )
    out = budget_steps(records)
    assert size_of(out.step_statuses) <= STEP_STATUS_BUDGET
    assert not out.lists_every_unsucceeded
    names = [r["name"] for r in out.step_statuses]
    assert names[:11] == [f"s{i:05d}" for i in range(11)]  # the failure, then running
    assert names == sorted(names)  # declaration order
    skipped = len(names) - 11
    assert 0 < skipped < 9000  # as many as fit
    assert size_of(out.step_statuses) + record_size(records[1000 + skipped]) + 1 \
        > STEP_STATUS_BUDGET  # and no more fit
    assert out.step_counts == [{"phase": "Running", "count": 10},
                               {"phase": "Succeeded", "count": 989},
                               {"phase": "Failed", "reason": "StepFailed", "count": 1},
                               {"phase": "Skipped", "reason": "DependencyFailed",
                                "count": 9000}]


def test_a_step_without_a_phase_is_pending_and_counted_once() -> None:
    records = [{"name": "a", "kind": "Container"}, record(1, "Pending")]
    assert count_steps(records) == [{"phase": "Pending", "count": 2}]
    out = budget_steps(records, budget=size_of(records) - 1)
    assert (out.step_statuses, out.lists_every_unsucceeded) == ([records[0]], False)


PHASES = st.sampled_from(["Pending", "Running", "Succeeded", "Failed", "Skipped"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(PHASES, st.sampled_from(["", "StepFailed", "DependencyFailed"]),
                          st.text(max_size=300)), max_size=60),
       st.integers(2, 6000))
def test_always_within_budget_ordered_and_counted(
        specs: list[tuple[str, str, str]], budget: int) -> None:
    records = [record(i, p, r or None, m) for i, (p, r, m) in enumerate(specs)]
    out: BudgetedSteps = budget_steps(records, budget)
    assert size_of(out.step_statuses) <= budget
    names = [r["name"] for r in out.step_statuses]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(r in records for r in out.step_statuses)
    if out.step_counts is None:
        assert out.step_statuses == records
    else:
        assert sum(c["count"] for c in out.step_counts) == len(records)
        assert all(r["phase"] != "Succeeded" for r in out.step_statuses)
        unsucceeded = [r for r in records if r["phase"] != "Succeeded"]
        assert out.lists_every_unsucceeded == (out.step_statuses == unsucceeded)
