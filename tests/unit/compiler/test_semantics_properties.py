"""Properties of the §3 reference over random DAGs and random failure sets, and
its agreement with an independent model of how Argo evaluates the compiler's
actual output."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.emit import emit_workflow
from compiler.graph import Graph, build_graph
from compiler.models import Orchestration
from compiler.names import EXPRESSION_KEYWORDS
from compiler.outcome import is_outcome_task, needs_outcome_task
from compiler.semantics import RunResult, plan
from compiler.vocabulary import RunPhase, StepPhase, StepReason

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


# --- An independent model of Argo's DAG evaluation --------------------------------
#
# Read from argoproj/argo-workflows (v4 line):
# - workflow/common/ancestry.go, getTaskDependsLogic/expandDependency: for
#   `dependencies: [A]` the task's logic is `(A.Succeeded || A.Skipped || A.Daemoned)`,
#   plus `|| A.Failed` when A has `continueOn.failed` and `|| A.Errored` when A has
#   `continueOn.error`; several dependencies are joined with `&&`.
# - workflow/controller/dag.go, evaluateDependsLogic: a task proceeds only when every
#   dependency's node is Fulfilled (Omitted counts); `Skipped` is true only for phase
#   Skipped, `Omitted` for phase Omitted, `Failed` for Failed and `Errored` for Error,
#   so an Omitted dependency satisfies nothing.
# - dag.go, executeDAGTask: when the logic is false the task's node is created with
#   phase Omitted ("omitted: depends condition not met"), which cascades.
# - dag.go, assessDAGPhase (v4.0.5 l.134, v3.6.18 l.131, identical): with
#   `failFast: false` every branch runs to its end; the DAG's phase is read from its
#   target tasks, the leaves (dag.go findLeafTaskNames, sorted by name), by a
#   breadth-first walk from the roots over the nodes' `children` (a task's node is a
#   child of each dependency's node, dag.go connectDependencies) carrying a branch
#   phase: a completed node (Succeeded, Failed, Error) sets it, an omitted one
#   inherits it, Failed/Error win over Succeeded at a target; a target whose
#   `continueOn` covers its phase does not count. operator.go (v4.0.5 l.396) maps the
#   DAG's phase to the Workflow's: Succeeded/Skipped/Omitted -> Succeeded.
#   The contract computes the run's phase from the steps; the compiler's final
#   outcome task (compiler.outcome) makes Argo's phase the same (#13498).
#
# The model re-reads the compiled task list the way Argo's operator re-reconciles:
# passes over all tasks until nothing changes, no topological order.


def argo_phases(workflow: dict[str, Any], failing: frozenset[str],
                erroring: frozenset[str]) -> dict[str, str]:
    entry = workflow["spec"]["entrypoint"]
    (template,) = [t for t in workflow["spec"]["templates"] if t["name"] == entry]
    assert template["dag"]["failFast"] is False
    tasks = template["dag"]["tasks"]
    by_name = {t["name"]: t for t in tasks}
    for task in tasks:
        assert "depends" not in task, "the model reads `dependencies` only"

    def satisfied(dep: str, phases: dict[str, str]) -> bool:
        continue_on = by_name[dep].get("continueOn", {})
        phase = phases[dep]
        return (phase in {"Succeeded", "Skipped", "Daemoned"}
                or (phase == "Failed" and continue_on.get("failed", False))
                or (phase == "Error" and continue_on.get("error", False)))

    phases: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for task in tasks:
            name, deps = task["name"], task.get("dependencies", [])
            if name in phases or any(d not in phases for d in deps):
                continue  # already has a node, or not every dependency is fulfilled
            if all(satisfied(d, phases) for d in deps):
                phases[name] = ("Error" if name in erroring
                                else "Failed" if name in failing else "Succeeded")
            else:
                phases[name] = "Omitted"
            changed = True
    assert set(phases) == set(by_name), "every task gets a node"
    return phases


def argo_workflow_phase(workflow: dict[str, Any], phases: dict[str, str]) -> str:
    """Argo's Workflow phase for the task phases `argo_phases` gave (no shutdown)."""
    entry = workflow["spec"]["entrypoint"]
    (template,) = [t for t in workflow["spec"]["templates"] if t["name"] == entry]
    tasks = template["dag"]["tasks"]
    by_name = {t["name"]: t for t in tasks}
    children: dict[str, list[str]] = {t["name"]: [] for t in tasks}
    roots = []
    for task in tasks:
        for dep in task.get("dependencies", []):
            children[dep].append(task["name"])
        if not task.get("dependencies"):
            roots.append(task["name"])
    leaves = sorted(n for n, c in children.items() if not c)
    target: dict[str, str] = dict.fromkeys(leaves, "")
    queue = deque((r, "Succeeded") for r in roots)
    seen = set(queue)
    while queue:
        name, branch = queue.popleft()
        if phases[name] in ("Succeeded", "Failed", "Error"):  # NodePhase.Completed
            branch = phases[name]
        if name in target and target[name] not in ("Failed", "Error"):
            target[name] = branch
        for child in children[name]:
            if (child, branch) not in seen:
                seen.add((child, branch))
                queue.append((child, branch))
    result = "Succeeded"
    for leaf in leaves:
        phase = target[leaf]
        continue_on = by_name[leaf].get("continueOn", {})
        if phase in ("Failed", "Error") and not continue_on.get(phase.lower()):
            result = phase
    return result


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
