"""A split run means what the unsplit one means (contract §8): on random DAGs,
random failures, errors and best-effort steps, some of them resumed runs reusing
steps (across parts), the compiler's split Workflows, run
by a simulator of Argo's DAG engine (tests/support/argo_dag.py, read from Argo
v4.0.5's dag.go) with the gates released as the controller releases them, give
every step the phase and reason of `orchapi.semantics`, start no step before each
of its dependencies has ended, and end each Workflow in a phase that agrees with
the run's.

Argo's limits are shrunk (a DAG of 3 to 9 tasks, a Workflow of 5 to 9 templates) so
that graphs of a few dozen steps split into many parts and Workflows, in every
shape: the split does not depend on the limits' values, only on their being met.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compiler.compiled import graph_from_workflows
from compiler.diagnostics import Collector
from compiler.emit import EmitSettings
from compiler.emit_run import CompiledRun, emit_run
from compiler.gates import GATE_TEMPLATE
from compiler.partition import ArgoLimits
from compiler.resume import REUSED_TEMPLATE
from orchapi.graph import Graph, build_graph, topological_order
from orchapi.models import Orchestration
from orchapi.semantics import Observation, Seen, WhatIf, evaluate
from orchapi.vocabulary import RunPhase, StepPhase, StepReason
from tests.support.argo_dag import ERROR, FAILED, OMITTED, SUCCEEDED, Simulation, simulate

IMAGES = ("alpine:1", "alpine:2", "alpine:3", "busybox:1")


@dataclass(frozen=True)
class Case:
    steps: list[dict[str, Any]]
    fates: dict[str, str]  # what each step does when it runs
    limits: ArgoLimits
    reused: frozenset[str] = frozenset()  # a resumed run's (compiler.resume)

    @property
    def orchestration(self) -> Orchestration:
        return Orchestration.model_validate({
            "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
            "metadata": {"name": "split", "namespace": "ns"}, "spec": {"steps": self.steps}})


@st.composite
def cases(draw: st.DrawFn, max_steps: int = 40) -> Case:
    n = draw(st.integers(1, max_steps))
    names = [f"s{i}" for i in range(n)]
    sequential = draw(st.integers(0, 9)) == 0
    steps: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        step: dict[str, Any] = {"name": name, "kind": "Container",
                                "image": draw(st.sampled_from(IMAGES))}
        if not sequential:
            window = draw(st.sampled_from((2, 5, n)))  # local edges, or anywhere before
            step["dependsOn"] = sorted(draw(st.sets(
                st.sampled_from(names[max(0, i - window):i]), max_size=4))) if i else []
        if draw(st.integers(0, 3)) == 0:
            step["continueOnFailure"] = True
        steps.append(step)
    if not sequential:
        steps = draw(st.permutations(steps))
    fates = {name: draw(st.sampled_from((SUCCEEDED, SUCCEEDED, SUCCEEDED, FAILED, ERROR)))
             for name in names}
    limits = ArgoLimits(tasks=draw(st.integers(3, 9)), templates=draw(st.integers(5, 9)))
    reused: set[str] = set()
    if draw(st.integers(0, 3)) == 0:  # a resumed run: what it reuses is closed upstream
        graph = build_graph(Case(steps, fates, limits).orchestration.spec.steps)
        for name in topological_order(graph):
            if all(d in reused for d in graph.by_name[name].dependencies) and draw(st.booleans()):
                reused.add(name)
    return Case(steps, fates, limits, frozenset(reused))


def compile_case(case: Case) -> tuple[CompiledRun, Graph]:
    out = Collector()
    compiled = emit_run(case.orchestration, None, out, EmitSettings(reused=case.reused),
                        case.limits)
    assert not [d for d in out.items if d.is_error], out.items
    graph = build_graph(case.orchestration.spec.steps)
    return compiled, graph


def step_phases(sim: Simulation, graph: Graph) -> dict[str, tuple[StepPhase, StepReason | None]]:
    """Contract §5's mapping of each step's Argo node to a phase and reason."""
    out: dict[str, tuple[StepPhase, StepReason | None]] = {}
    for name, (w, path) in sim.steps.items():
        node = sim.workflows[w].nodes[path]
        best_effort = graph.by_name[name].continue_on_failure
        if node.template == REUSED_TEMPLATE:
            out[name] = (StepPhase.SUCCEEDED, StepReason.REUSED)
            continue
        out[name] = {
            SUCCEEDED: (StepPhase.SUCCEEDED, None),
            FAILED: (StepPhase.FAILED, StepReason.FAILURE_IGNORED if best_effort
                     else StepReason.STEP_FAILED),
            ERROR: (StepPhase.FAILED, StepReason.STEP_ERROR),
        }[node.phase]
    for wf in sim.workflows:
        for path, node in wf.nodes.items():
            if node.phase == OMITTED and node.template not in (GATE_TEMPLATE,) \
                    and path[-1] in graph.by_name:
                out[path[-1]] = (StepPhase.SKIPPED, StepReason.DEPENDENCY_FAILED)
    return out


def check_exact(case: Case, seed: int) -> Simulation:
    compiled, graph = compile_case(case)
    if compiled.is_split:  # the controller reads the run's graph back from its Workflows
        read = graph_from_workflows(compiled.workflows)
        assert [n.name for n in read.nodes] == list(graph.names)
        assert [set(n.dependencies) for n in read.nodes] == \
            [set(n.dependencies) for n in graph.nodes]
        assert [n.continue_on_failure for n in read.nodes] == \
            [n.continue_on_failure for n in graph.nodes]
    sim = simulate(compiled.workflows, graph, case.fates, random.Random(seed), case.reused)

    failed = frozenset(s for s, f in case.fates.items() if f == FAILED)
    errored = frozenset(s for s, f in case.fates.items() if f == ERROR)
    known = {s: Observation(Seen.REUSED) for s in case.reused}
    expected = evaluate(graph, known, what_if=WhatIf(failed, errored))
    argo = step_phases(sim, graph)
    assert argo == {s.name: (s.phase, s.reason) for s in expected.steps}
    # No step started before each of its dependencies had ended, and each let it.
    for name, (w, path) in sim.steps.items():
        node = sim.workflows[w].nodes[path]
        for dep in graph.by_name[name].dependencies:
            dw, dpath = sim.steps[dep]
            dep_node = sim.workflows[dw].nodes[dpath]
            assert dep_node.finished is not None and dep_node.finished <= node.started, \
                (name, dep)
            assert expected.by_name[dep].satisfies_dependents, (name, dep)
    # Every gate was released, and every Workflow ended in a phase that agrees with
    # the run's (an Error is a failed run): Argo's phases are right (#13498).
    assert all(n.phase != "Running" for wf in sim.workflows for n in wf.nodes.values())
    argo_failed = any(wf.phase != SUCCEEDED for wf in sim.workflows)
    assert argo_failed == (expected.phase is RunPhase.FAILED)
    return sim


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.integers(0, 2**32))
def test_a_split_run_is_exact(case: Case, seed: int) -> None:
    check_exact(case, seed)


def chain(n: int) -> list[dict[str, Any]]:
    return [{"name": f"s{i}", "kind": "Container", "image": "alpine:1",
             "dependsOn": [f"s{i - 1}"] if i else []} for i in range(n)]


@pytest.mark.parametrize(("steps", "failing", "why"), [
    pytest.param(chain(12), {"s5": FAILED}, "a failure ends a chain across parts",
                 id="chain-fails-midway"),
    pytest.param([{**s, "continueOnFailure": s["name"] == "s5"} for s in chain(12)],
                 {"s5": FAILED}, "an ignored failure lets the chain go on", id="chain-ignored"),
    pytest.param([{**s, "continueOnFailure": True} for s in chain(12)], {"s5": ERROR},
                 "an error is not covered by continueOnFailure", id="chain-error"),
    pytest.param([{"name": "root", "kind": "Container", "image": "alpine:1", "dependsOn": []},
                  *({"name": f"leaf{i}", "kind": "Container", "image": "alpine:1",
                     "dependsOn": ["root"]} for i in range(10)),
                  {"name": "join", "kind": "Container", "image": "alpine:1",
                   "dependsOn": [f"leaf{i}" for i in range(10)]}],
                 {"leaf7": FAILED}, "a join behind one gate for many sources",
                 id="fan-out-and-join"),
])
def test_shapes(steps: list[dict[str, Any]], failing: dict[str, str], why: str) -> None:
    case = Case(steps, failing, ArgoLimits(tasks=4, templates=6))
    compiled, _ = compile_case(case)
    assert compiled.is_split, why
    for seed in range(20):
        check_exact(case, seed)


@settings(max_examples=60, deadline=None)
@given(cases(), st.integers(0, 2**32))
@example(Case(chain(5), {}, ArgoLimits(tasks=3, templates=5)), 0)
def test_a_gate_waits_for_a_dependency_still_running(case: Case, seed: int) -> None:
    """Whenever the controller passes a gate, every one of its sources has ended:
    checked at every tick of the simulation, not only at its end."""
    compiled, graph = compile_case(case)

    def no_early_gate(sim: Simulation) -> None:
        result = sim.observe()
        for wf in sim.workflows:
            for node in wf.nodes.values():
                if node.template == GATE_TEMPLATE and node.phase == SUCCEEDED:
                    assert all(result.by_name[s].is_done for s in node.gate)

    simulate(compiled.workflows, graph, case.fates, random.Random(seed), case.reused,
             on_tick=no_early_gate)
