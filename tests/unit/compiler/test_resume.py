"""The resume decision (contract §3) against hypothesis-generated old runs: every
step that did not succeed reruns, what reruns is closed downstream (so a reused
step is never downstream of a rerun step), nothing reruns without a cause; the
resumed run, compiled with its reused steps as no-ops, ends as the reference
says on an independent model of Argo. Plus the refusals, one row each."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.compiled import graph_from_workflow, reused_steps
from compiler.emit import EmitSettings, emit_workflow
from compiler.resume import (
    decide_resume,
    plan_resume,
    resume_problem,
    reused_records,
)
from orchapi.api import Obj
from orchapi.graph import Graph, Node
from orchapi.semantics import Observation, RunResult, Seen, evaluate, plan
from orchapi.vocabulary import RunPhase, StepPhase, StepReason
from tests.support.argo_model import argo_phases
from tests.unit.orchapi.test_semantics_properties import (
    Scenario,
    ancestors,
    argo_to_steps,
    scenarios,
)


@st.composite
def old_runs(draw: st.DrawFn) -> tuple[Scenario, RunResult, frozenset[str]]:
    """A graph, the old run's end (a finished plan; or cancelled or ended early with
    some steps running), and the steps a person names in `rerun`."""
    scenario = draw(scenarios())
    graph = scenario.graph
    how = draw(st.sampled_from(["finished", "cancelled", "ended"]))
    if how == "finished":
        old = scenario.run()
    else:
        first = plan(graph, scenario.failed, scenario.errored)
        known = {s.name: Observation(Seen.SUCCEEDED) for s in first.steps
                 if s.phase is StepPhase.SUCCEEDED and draw(st.booleans())}
        running = {n for n in graph.names if n not in known and draw(st.booleans())}
        known.update({n: Observation(Seen.RUNNING) for n in running})
        old = evaluate(graph, known, cancelled=how == "cancelled",
                       workflow_ended=how == "ended")
    rerun = draw(st.sets(st.sampled_from(graph.names)))
    return scenario, old, frozenset(rerun)


def records(old: RunResult) -> dict[str, Obj]:
    return {s.name: {"name": s.name, "phase": str(s.phase),
                     **({"reason": str(s.reason)} if s.reason else {})} for s in old.steps}


@settings(max_examples=300, deadline=None)
@given(old_runs())
def test_reused_steps_are_never_downstream_of_a_rerun_step(
        case: tuple[Scenario, RunResult, frozenset[str]]) -> None:
    scenario, old, rerun = case
    graph = scenario.graph
    decision = decide_resume(graph, "old", records(old), rerun)
    assert set(decision.reused) | set(decision.rerun) == set(graph.names)
    assert not set(decision.reused) & set(decision.rerun)
    for name in decision.reused:
        assert not ancestors(graph, name) & set(decision.rerun), name


@settings(max_examples=300, deadline=None)
@given(old_runs())
def test_every_step_that_did_not_succeed_reruns_and_nothing_reruns_without_a_cause(
        case: tuple[Scenario, RunResult, frozenset[str]]) -> None:
    scenario, old, rerun = case
    graph = scenario.graph
    decision = decide_resume(graph, "old", records(old), rerun)
    not_succeeded = {s.name for s in old.steps if s.phase is not StepPhase.SUCCEEDED}
    assert not_succeeded | rerun <= set(decision.rerun)
    for name in decision.rerun:  # minimal: a failure, a name, or a dependency rerunning
        node = graph.by_name[name]
        assert name in not_succeeded | rerun or set(node.dependencies) & set(decision.rerun)


@settings(max_examples=200, deadline=None)
@given(old_runs(), st.data())
def test_the_resumed_run_compiles_reused_steps_to_no_ops_and_argo_agrees(
        case: tuple[Scenario, RunResult, frozenset[str]], data: st.DataObject) -> None:
    scenario, old, rerun = case
    graph = scenario.graph
    decision = decide_resume(graph, "old", records(old), rerun)
    workflow = emit_workflow(scenario.orchestration,
                             settings=EmitSettings(reused=decision.reused)).workflow
    assert reused_steps(workflow) == frozenset(decision.reused)
    assert graph_from_workflow(workflow).nodes == tuple(
        Node(n.name, "", n.dependencies, n.continue_on_failure) for n in graph.nodes)
    # Failures among the steps that run again; Argo's view of the compiled run
    # equals the reference's resumed plan.
    failing = frozenset(data.draw(st.sets(st.sampled_from(decision.rerun)))
                        if decision.rerun else set())
    resumed = plan_resume(graph, decision, failing)
    argo = argo_to_steps(workflow, argo_phases(workflow, failing, frozenset()))
    expected = {s.name: (s.phase, None if s.reason is StepReason.REUSED else s.reason)
                for s in resumed.steps}
    assert argo == expected
    for name in decision.reused:
        step = resumed.by_name[name]
        assert (step.phase, step.reason) == (StepPhase.SUCCEEDED, StepReason.REUSED)
    if not failing:
        assert resumed.phase is RunPhase.SUCCEEDED


def test_reused_records_keep_the_old_record_as_reused() -> None:
    graph = Graph((Node("a", "AgentRun", ()), Node("b", "Container", ("a",))))
    old: dict[str, Obj] = {
        "a": {"name": "a", "kind": "AgentRun", "phase": "Succeeded", "message": "succeeded",
              "outputs": {"big": "x" * 5000},
              "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:01:00Z",
              "attempt": 2, "resourceRef": {"kind": "AgentRun", "name": "r1-a-x"}},
        "b": {"name": "b", "kind": "Container", "phase": "Failed", "reason": "StepFailed"}}
    decision = decide_resume(graph, "r1", old)
    assert (decision.reused, decision.rerun) == (("a",), ("b",))
    assert decision.why == {"b": "it ended Failed (StepFailed)"}
    assert reused_records(decision, old) == [{
        "name": "a", "kind": "AgentRun", "phase": "Succeeded", "reason": "Reused",
        "message": 'reused from run "r1"', "startedAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T00:01:00Z", "attempt": 2,
        "resourceRef": {"kind": "AgentRun", "name": "r1-a-x"}}]


GRAPH = Graph((Node("build", "Container", ()), Node("test", "Container", ("build",))))


def old_run(**status: Any) -> Obj:
    base: Obj = {"phase": "Failed", "orchestrationGeneration": 2,
                 "stepStatuses": [{"name": "build", "phase": "Succeeded"}]}
    return {"spec": {"orchestrationRef": {"name": "o"}}, "status": {**base, **status}}


@pytest.mark.parametrize("old,generation,rerun,problem", [
    (None, 2, (), 'the run to resume from, "r1", does not exist in this namespace'),
    ({**old_run(), "spec": {"orchestrationRef": {"name": "other"}}}, 2, (),
     'run "r1" ran Orchestration "other", not "o"'),
    (old_run(phase="Running"), 2, (), 'run "r1" has not ended (it is Running)'),
    (old_run(), 3, (), 'run "r1" ran generation 2 of Orchestration "o", which is now at '
                       "generation 3"),
    (old_run(orchestrationGeneration=None), 2, (), 'run "r1" ran an unknown generation'),
    (old_run(stepStatuses=[]), 2, (), 'run "r1" ended before any step was submitted'),
    (old_run(), 2, ("tset",), 'rerun names "tset", which is not a step of "o"; did you '
                              'mean "test"?'),
], ids=["missing", "other-orchestration", "not-ended", "other-generation",
        "unknown-generation", "never-submitted", "unknown-rerun-step"])
def test_resume_refusals(old: Obj | None, generation: int, rerun: tuple[str, ...],
                         problem: str) -> None:
    found = resume_problem(old, "r1", "o", generation, GRAPH, rerun)
    assert found is not None and found.startswith(problem), found


def test_an_ended_run_of_the_same_generation_can_be_resumed() -> None:
    assert resume_problem(old_run(), "r1", "o", 2, GRAPH, ("test",)) is None
    assert resume_problem(old_run(phase="Cancelled"), "r1", "o", 2, GRAPH) is None
