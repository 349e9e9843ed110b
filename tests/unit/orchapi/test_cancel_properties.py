"""Cancel (contract §3) over random DAGs and random moments: the cancel ends every
step, changes only the steps that had not ended, and makes the run `Cancelled`
exactly when it cut something short."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orchapi.semantics import Observation, Seen, evaluate, plan
from orchapi.vocabulary import RunPhase, StepPhase, StepReason
from tests.unit.orchapi.test_semantics_properties import Scenario, scenarios


@st.composite
def moments(draw: st.DrawFn) -> tuple[Scenario, dict[str, Observation]]:
    """A run caught at a random moment: some of the steps its plan ends are known
    ended as planned, some of the rest running."""
    scenario = draw(scenarios())
    planned = plan(scenario.graph, scenario.failed, scenario.errored)
    state = {StepPhase.SUCCEEDED: Seen.SUCCEEDED, StepPhase.FAILED: Seen.FAILED}
    known: dict[str, Observation] = {}
    for step in planned.steps:
        if step.phase in state and draw(st.booleans()):
            errored = step.reason is StepReason.STEP_ERROR
            known[step.name] = Observation(Seen.ERRORED if errored else state[step.phase])
    # Running steps must be able to run: their dependencies are known to satisfy them.
    now = evaluate(scenario.graph, known)
    for step in now.steps:
        if step.runnable and draw(st.booleans()):
            known[step.name] = Observation(Seen.RUNNING)
    return scenario, known


@settings(max_examples=300, deadline=None)
@given(moments())
def test_cancel_ends_every_step_and_changes_only_what_had_not_ended(
        case: tuple[Scenario, dict[str, Observation]]) -> None:
    scenario, known = case
    before = evaluate(scenario.graph, known)
    after = evaluate(scenario.graph, known, cancelled=True)
    assert all(s.is_done for s in after.steps)
    for old, new in zip(before.steps, after.steps, strict=True):
        if old.is_done:
            assert (new.phase, new.reason) == (old.phase, old.reason)
        elif old.phase is StepPhase.RUNNING:
            assert (new.phase, new.reason) == (StepPhase.FAILED, StepReason.CANCELLED)
        else:
            # never DependencyFailed: what it waited on was stopped by the cancel too
            assert (new.phase, new.reason) == (StepPhase.SKIPPED, StepReason.CANCELLED)
    cut_short = any(not s.is_done for s in before.steps)
    assert (after.phase is RunPhase.CANCELLED) == cut_short
    if not cut_short:
        assert after.phase is before.phase
