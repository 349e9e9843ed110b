"""A resource step waits on the object it created until Argo's success or failure
condition matches; a phase neither matches leaves the step (and its run) waiting
for ever. So every phase in which the created object does nothing more must match
one of the two: a child OrchestrationRun's `Succeeded`, `Failed` and `Cancelled`
(a person may cancel the child alone: `orch cancel CHILD`), an AgentRun's
`Succeeded`, `Failed`, `Cancelled`.

Argo evaluates each condition as Kubernetes label-selector requirements over the
object's JSON (workflow/executor/resource.go matchConditions, argo-workflows
v4.0.5 l.273, with `labels.ParseToRequirements`); the two operators the compiler
writes, `==` and `in (...)`, are read here the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from compiler.kinds import agent_run, sub_orchestration
from controller.cancel import AGENT_RUN_DONE
from orchapi.vocabulary import RUN_DONE, RunPhase

_REQUIREMENT = re.compile(r"^\s*([\w.]+)\s*(?:(==|=)\s*([\w-]+)|in\s*\(([^)]*)\))\s*$")


def matches(condition: str, obj: Mapping[str, Any]) -> bool:
    """Every comma-separated requirement holds (outside the parentheses of `in`)."""
    parts = re.split(r",(?![^(]*\))", condition)
    for part in parts:
        found = _REQUIREMENT.match(part)
        assert found is not None, f"an operator this reader does not know: {part!r}"
        key, _, value, values = found.groups()
        current: Any = obj
        for name in key.split("."):
            current = current.get(name) if isinstance(current, Mapping) else None
        allowed = {value} if value is not None else {v.strip() for v in values.split(",")}
        if current not in allowed:
            return False
    return True


def verdict(resource: Mapping[str, str], phase: str) -> str:
    obj = {"status": {"phase": phase}}
    if matches(resource["failureCondition"], obj):  # Argo checks failure first
        return "failed"
    return "succeeded" if matches(resource["successCondition"], obj) else "waiting"


def test_the_reader_is_argos_selector_subset() -> None:
    assert matches("status.phase == A", {"status": {"phase": "A"}})
    assert not matches("status.phase == A", {"status": {}})
    assert matches("status.phase in (A,B)", {"status": {"phase": "B"}})
    assert not matches("status.phase in (A,B)", {"status": {"phase": "C"}})


@pytest.mark.parametrize("phase", sorted(RUN_DONE))
def test_a_child_run_that_ended_ends_its_suborchestration_step(phase: str) -> None:
    resource = sub_orchestration.template(1)["resource"]
    want = "succeeded" if phase == RunPhase.SUCCEEDED else "failed"
    assert verdict(resource, phase) == want


@pytest.mark.parametrize("phase", [RunPhase.PENDING, RunPhase.RUNNING, ""])
def test_a_child_run_still_going_keeps_its_step_waiting(phase: str) -> None:
    assert verdict(sub_orchestration.template(1)["resource"], phase) == "waiting"


@pytest.mark.parametrize("phase", sorted(AGENT_RUN_DONE))
def test_an_agentrun_that_ended_ends_its_step(phase: str) -> None:
    want = "succeeded" if phase == "Succeeded" else "failed"
    assert verdict(agent_run.TEMPLATE["resource"], phase) == want
