"""A run refused before its Workflow was submitted (contract §5): it has ended
`Failed`, so its steps are resolved, never left `Pending` (issue 21: the ended run
showed every step Pending and `orch watch` counted them as pending)."""

from __future__ import annotations

import pytest

from controller.decide import Observed, Submission, WriteStatus, decide
from tests.unit.controller.test_decide import ORCH, observed, run, table


def refused(reason: str) -> Observed:
    return observed(run(), run_live=True, orchestration=ORCH, orchestration_live=True,
                    submission=Submission(None, reason, "why, in full"))


@pytest.mark.parametrize("reason", ["ToolNotFound", "OrchestrationInvalid", "WorkflowTooLarge",
                                    "ResumeRefused", "ToolInvalid"])
def test_every_step_of_a_refused_run_is_skipped_not_submitted(reason: str) -> None:
    action = decide(refused(reason))
    assert isinstance(action, WriteStatus)
    status = action.status
    assert (status["phase"], status["progress"]) == ("Failed", "4/4")
    assert table(status) == dict.fromkeys("abcd", ("Skipped", "NotSubmitted"))
    assert {s["message"] for s in status["stepStatuses"]} == {
        f"the run was refused before its Workflow was submitted ({reason}); nothing ran"}


def test_a_refused_run_keeps_what_other_writers_put_on_a_step() -> None:
    o = refused("ToolNotFound")
    o = Observed(**{**o.__dict__, "run": run({"stepStatuses": [
        {"name": "a", "kind": "Container", "phase": "Pending", "note": "theirs"}]})})
    action = decide(o)
    assert isinstance(action, WriteStatus)
    a = next(s for s in action.status["stepStatuses"] if s["name"] == "a")
    assert (a["phase"], a["note"]) == ("Skipped", "theirs")


def test_a_run_whose_orchestration_is_not_found_has_no_steps_to_resolve() -> None:
    action = decide(observed(run(), run_live=True, orchestration_live=True))
    assert isinstance(action, WriteStatus)
    assert "stepStatuses" not in action.status
