"""Properties of the §3 reference over random DAGs and random failure sets, and
its agreement with an independent model of how Argo evaluates the compiler's
actual output."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.emit import emit_workflow
from compiler.outcome import is_outcome_task, needs_outcome_task
from orchapi.graph import Graph, build_graph
from orchapi.models import Orchestration
from orchapi.names import EXPRESSION_KEYWORDS
from orchapi.semantics import RunResult, plan
from orchapi.vocabulary import RunPhase, StepPhase, StepReason
from tests.support.argo_model import argo_phases, argo_workflow_phase

NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True).filter(
    lambda n: n not in EXPRESSION_KEYWORDS)


@dataclass(frozen=True)
class Scenario:
    steps: list[dict[str, Any]]  # Orchestration steps, declaration order
    failed: frozenset[str]
    errored: frozenset[str]

    @property
    def orchestration(self) -> Orchestration:
        return Orchestration.model_validate({
            "apiVersion": "orchestration.proompteng.ai/v1alpha1",
            "kind": "Orchestration",
            "metadata": {"name": "random"},
            "spec": {"steps": self.steps},
        })

    @property
    def graph(self) -> Graph:
        return build_graph(self.orchestration.spec.steps)

    def run(self) -> RunResult:
        return plan(self.graph, self.failed, self.errored)


@st.composite
def scenarios(draw: st.DrawFn, sequential: bool | None = None) -> Scenario:
    """A random acyclic graph (dependencies drawn among a hidden topological
    order, then declared in a random order), random best-effort steps, and
    disjoint random sets of steps that fail and that error."""
    names = draw(st.lists(NAMES, min_size=1, max_size=12, unique=True))
    seq = draw(st.booleans()) if sequential is None else sequential
    steps: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        step: dict[str, Any] = {"name": name, "kind": "Container", "image": "busybox"}
        if not seq:
            step["dependsOn"] = draw(st.lists(st.sampled_from(names[:i]), unique=True,
                                              max_size=3)) if i else []
        if draw(st.booleans()):
            step["continueOnFailure"] = draw(st.booleans())
        steps.append(step)
    if not seq:
        steps = draw(st.permutations(steps))
    failing = draw(st.sets(st.sampled_from(names)))
    erroring = draw(st.sets(st.sampled_from(names))) - failing
    return Scenario(steps, frozenset(failing), frozenset(erroring))


def ancestors(graph: Graph, name: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph.by_name[name].dependencies)
    while stack:
        dep = stack.pop()
        if dep not in seen:
            seen.add(dep)
            stack.extend(graph.by_name[dep].dependencies)
    return seen


def blocking(scenario: Scenario, graph: Graph) -> set[str]:
    """Steps whose failure, if they run, is not ignored."""
    return set(scenario.errored) | {
        n for n in scenario.failed if not graph.by_name[n].continue_on_failure}


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_no_step_both_runs_and_is_skipped(scenario: Scenario) -> None:
    graph, result = scenario.graph, scenario.run()
    for node in graph.nodes:
        step = result.by_name[node.name]
        deps = [result.by_name[d] for d in node.dependencies]
        assert step.phase in {StepPhase.SUCCEEDED, StepPhase.FAILED, StepPhase.SKIPPED}
        if step.phase is StepPhase.SKIPPED:
            assert step.reason is StepReason.DEPENDENCY_FAILED
            assert any(d.blocks_dependents for d in deps)
        else:  # it ran: every dependency let it
            assert all(d.satisfies_dependents for d in deps)
            ran_as = ("errored" if node.name in scenario.errored else
                      "failed" if node.name in scenario.failed else "succeeded")
            assert (step.phase is StepPhase.SUCCEEDED) == (ran_as == "succeeded")


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_skipped_iff_an_ancestor_carries_a_failure_not_ignored(scenario: Scenario) -> None:
    graph, result = scenario.graph, scenario.run()
    bad = blocking(scenario, graph)
    for node in graph.nodes:
        skipped = result.by_name[node.name].phase is StepPhase.SKIPPED
        assert skipped == bool(ancestors(graph, node.name) & bad), node.name


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_run_failed_iff_some_step_failed_without_continue_on_failure(scenario: Scenario) -> None:
    graph, result = scenario.graph, scenario.run()
    ran_and_failed = {s.name for s in result.steps if s.phase is StepPhase.FAILED}
    expected = bool(ran_and_failed & blocking(scenario, graph))
    assert (result.phase is RunPhase.FAILED) == expected
    # and a step that can fail for real always gets to fail when nothing above it does
    assert expected == bool(blocking(scenario, graph))


@settings(max_examples=200, deadline=None)
@given(scenarios(sequential=False), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_declaration_order(
    scenario: Scenario, rnd: random.Random
) -> None:
    shuffled = list(scenario.steps)
    rnd.shuffle(shuffled)
    other = Scenario(shuffled, scenario.failed, scenario.errored)
    first, second = scenario.run(), other.run()
    assert first.phase is second.phase
    assert first.conditions[0].reason == second.conditions[0].reason
    assert {s.name: (s.phase, s.reason) for s in first.steps} == {
        s.name: (s.phase, s.reason) for s in second.steps}
    assert [s.name for s in second.steps] == [s["name"] for s in shuffled]


# --- An independent model of Argo's DAG evaluation: tests/support/argo_model.py ----


def argo_to_steps(workflow: dict[str, Any],
                  phases: dict[str, str]) -> dict[str, tuple[StepPhase, StepReason | None]]:
    """Contract §5's mapping of Argo node phases to step phases and reasons."""
    tasks = {t["name"]: t for t in workflow["spec"]["templates"][0]["dag"]["tasks"]
             if not is_outcome_task(t)}
    out: dict[str, tuple[StepPhase, StepReason | None]] = {}
    for name, phase in phases.items():
        if name not in tasks:
            continue
        if phase == "Succeeded":
            out[name] = (StepPhase.SUCCEEDED, None)
        elif phase == "Failed":
            ignored = tasks[name].get("continueOn", {}).get("failed", False)
            out[name] = (StepPhase.FAILED,
                         StepReason.FAILURE_IGNORED if ignored else StepReason.STEP_FAILED)
        elif phase == "Error":
            out[name] = (StepPhase.FAILED, StepReason.STEP_ERROR)
        elif phase == "Omitted":
            out[name] = (StepPhase.SKIPPED, StepReason.DEPENDENCY_FAILED)
        else:
            raise AssertionError(f"unexpected Argo phase {phase}")
    return out


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_reference_agrees_with_argo_on_the_compiled_workflow(scenario: Scenario) -> None:
    workflow = emit_workflow(scenario.orchestration).workflow
    argo = argo_to_steps(workflow, argo_phases(workflow, scenario.failed, scenario.errored))
    result = scenario.run()
    assert {s.name: (s.phase, s.reason) for s in result.steps} == argo
    # the run's phase, from the step results, follows from Argo's step outcomes too
    argo_failed = any(p is StepPhase.FAILED and r is not StepReason.FAILURE_IGNORED
                      for p, r in argo.values())
    assert (result.phase is RunPhase.FAILED) == argo_failed
    # and so does Argo's own Workflow phase (an Error is a Failed run): #13498 is
    # closed by the compiler's outcome task whenever it is needed
    argo_phase = argo_workflow_phase(
        workflow, argo_phases(workflow, scenario.failed, scenario.errored))
    assert (argo_phase != "Succeeded") == (result.phase is RunPhase.FAILED)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_argo_phase_is_wrong_only_where_the_outcome_task_is_added(scenario: Scenario) -> None:
    # The same Workflow without the outcome task: Argo's phase differs from the run's
    # only in graphs with a best-effort leaf, the ones the compiler adds it to.
    workflow = emit_workflow(scenario.orchestration).workflow
    dag = workflow["spec"]["templates"][0]["dag"]
    dag["tasks"] = [t for t in dag["tasks"] if not is_outcome_task(t)]
    argo_phase = argo_workflow_phase(
        workflow, argo_phases(workflow, scenario.failed, scenario.errored))
    if (argo_phase != "Succeeded") != (scenario.run().phase is RunPhase.FAILED):
        assert needs_outcome_task(scenario.graph)


def test_argo_13498_without_and_with_the_outcome_task() -> None:
    # a -> b*     a fails for real; Argo omits b, whose continueOn.failed then hides
    # the failure from the DAG's phase unless a task after b counts it
    scenario = Scenario(
        [{"name": "a", "kind": "Container", "image": "busybox", "dependsOn": []},
         {"name": "b", "kind": "Container", "image": "busybox", "dependsOn": ["a"],
          "continueOnFailure": True}],
        frozenset({"a"}), frozenset())
    workflow = emit_workflow(scenario.orchestration).workflow
    phases = argo_phases(workflow, scenario.failed, scenario.errored)
    assert phases == {"a": "Failed", "b": "Omitted", "orch-outcome": "Omitted"}
    assert argo_workflow_phase(workflow, phases) == "Failed"
    dag = workflow["spec"]["templates"][0]["dag"]
    dag["tasks"] = dag["tasks"][:2]
    assert argo_workflow_phase(workflow, {"a": "Failed", "b": "Omitted"}) == "Succeeded"
    assert scenario.run().phase is RunPhase.FAILED


def test_argo_model_omits_after_error_despite_continue_on_failed() -> None:
    # a* -> b     Argo's continueOn.failed does not cover Error: b is Omitted
    scenario = Scenario(
        [{"name": "a", "kind": "Container", "image": "busybox", "dependsOn": [],
          "continueOnFailure": True},
         {"name": "b", "kind": "Container", "image": "busybox", "dependsOn": ["a"]}],
        frozenset(), frozenset({"a"}))
    workflow = emit_workflow(scenario.orchestration).workflow
    assert argo_phases(workflow, scenario.failed, scenario.errored) == {
        "a": "Error", "b": "Omitted"}
