"""The partitioner (compiler.partition): parts within Argo's limits, gates that
stand exactly for the edges they cut, few of them, the same answer every time.

Graphs are drawn as `name <- dependencies`."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.partition import (
    RESERVED_TASKS,
    RESERVED_TEMPLATES,
    ArgoLimits,
    Plan,
    StepCost,
    TooLargeError,
    plan_parts,
)
from orchapi.graph import Graph, Node


def graph(edges: Sequence[tuple[str, Sequence[str]]]) -> Graph:
    return Graph(tuple(Node(name, "Container", tuple(deps)) for name, deps in edges))


def costs(g: Graph, template: str | None = "t", size: int = 100) -> dict[str, StepCost]:
    return {n: StepCost(template, size, 100) for n in g.names}


def chain(n: int) -> Graph:
    return graph([(f"s{i}", [f"s{i - 1}"] if i else []) for i in range(n)])


def fan(n: int, join: bool = False) -> Graph:
    edges: list[tuple[str, Sequence[str]]] = [("root", [])]
    edges += [(f"leaf{i}", ["root"]) for i in range(n)]
    if join:
        edges.append(("join", [f"leaf{i}" for i in range(n)]))
    return graph(edges)


def chains(count: int, length: int) -> Graph:
    """`count` independent chains, declared interleaved (layer by layer)."""
    return graph([(f"c{c}-{i}", [f"c{c}-{i - 1}"] if i else [])
                  for i in range(length) for c in range(count)])


def check_plan(g: Graph, plan: Plan, limits: ArgoLimits) -> None:
    """Every step in exactly one part; each part and Workflow within the limits;
    each gate's targets depend on each of its sources, which stand outside the
    part; every edge that crosses parts is behind exactly one gate."""
    seen = [s for p in plan.parts for s in p.steps]
    assert sorted(seen) == sorted(g.names)
    part_of = plan.part_of()
    for workflow in plan.workflows:
        assert len(workflow) <= limits.tasks
        templates = {"t"} if workflow else set()
        assert len(templates) + len(workflow) + RESERVED_TEMPLATES <= limits.templates \
            or len(workflow) == 1
    for i, part in enumerate(plan.parts):
        assert part.tasks + RESERVED_TASKS <= limits.tasks
        covered: dict[tuple[str, str], int] = {}
        for gate in part.gates:
            for target in gate.targets:
                assert part_of[target] == i
                for source in gate.sources:
                    assert part_of[source] != i
                    assert source in g.by_name[target].dependencies
                    covered[(source, target)] = covered.get((source, target), 0) + 1
        crossing = {(d, s) for s in part.steps for d in g.by_name[s].dependencies
                    if part_of[d] != i}
        assert set(covered) == crossing and set(covered.values()) <= {1}


@pytest.mark.parametrize(("g", "parts", "gates"), [
    pytest.param(chain(10), 1, 0, id="chain-fits"),
    pytest.param(chain(1000), 6, 5, id="chain-one-gate-per-cut"),
    # root <- leaf0..leaf999: each part past the first waits on root once
    pytest.param(fan(999), 6, 5, id="fan-out"),
    # ... <- join: the join's part needs one gate per other part's leaves... and
    # they all share it: one gate for every source outside (their signature: {join})
    pytest.param(fan(999, join=True), 6, 6, id="fan-out-and-join"),
    # 10 chains of 100, declared interleaved: each part holds whole chains
    pytest.param(chains(10, 100), 6, 5, id="parallel-chains"),
])
def test_few_gates_on_common_shapes(g: Graph, parts: int, gates: int) -> None:
    limits = ArgoLimits()
    plan = plan_parts(g, costs(g), limits)
    check_plan(g, plan, limits)
    assert (len(plan.parts), plan.gates) == (parts, gates)


def test_a_join_of_many_needs_one_gate_per_part() -> None:
    """root <- leaf0..leaf9998 <- join: 10,000 steps; the join depends on 9,999
    steps in 50 parts and waits on one gate."""
    g = fan(9998, join=True)
    plan = plan_parts(g, costs(g))
    join_part = plan.parts[plan.part_of()["join"]]
    (gate,) = [gt for gt in join_part.gates if "join" in gt.targets]
    assert len(gate.sources) == sum(1 for n in g.names if n.startswith("leaf")
                                    and plan.part_of()[n] != plan.part_of()["join"])


def test_parallel_chains_are_not_cut_where_layers_would() -> None:
    """The baseline fill in declaration order (layer by layer) cuts all 10 chains at
    every part's border; growing parts along edges cuts one chain per border (a part
    holds 199 steps, not two whole chains of 100)."""
    from compiler.partition import partition_steps

    g = chains(10, 100)
    layered = partition_steps(g, costs(g), ArgoLimits(), order=list(g.names), grow=False)
    grown = partition_steps(g, costs(g), ArgoLimits())
    crossing = [sum(1 for s in part for d in g.by_name[s].dependencies if d not in part)
                for part in map(set, (*layered, *grown))]
    assert (sum(crossing[:len(layered)]), sum(crossing[len(layered):])) == (50, 5)


def test_templates_bound_a_workflow() -> None:
    """A step template per step: a Workflow holds as many as 200 templates allow."""
    g = chain(500)
    step_costs = {n: StepCost(f"t-{n}", 100, 300) for n in g.names}
    plan = plan_parts(g, step_costs)
    for workflow in plan.workflows:
        templates = {step_costs[s].template for p in workflow for s in p.steps}
        assert len(templates) + len(workflow) + RESERVED_TEMPLATES <= 200 or len(workflow) == 1
    assert len(plan.workflows) == 3


def test_bytes_bound_a_workflow() -> None:
    g = chain(400)
    plan = plan_parts(g, {n: StepCost("t", 20_000, 100) for n in g.names})
    assert len(plan.workflows) > 1
    assert all(sum(len(p.steps) for p in w) * 20_000 <= ArgoLimits().bytes for w in plan.workflows)


def test_a_step_too_large_alone_is_refused() -> None:
    g = chain(3)
    sizes = {"s0": 100, "s1": 900_000, "s2": 100}
    with pytest.raises(TooLargeError) as caught:
        plan_parts(g, {n: StepCost("t", sizes[n], 100) for n in g.names})
    assert caught.value.step == "s1"


def test_parts_grow_along_chains_declared_interleaved() -> None:
    """3 chains of 3 declared c0-0 c1-0 c2-0 c0-1 ...; parts of 3 steps (and an
    outcome task): each part is one chain."""
    g = chains(3, 3)
    plan = plan_parts(g, costs(g), ArgoLimits(tasks=4, templates=200))
    assert [set(p.steps) for p in plan.parts] == [{f"c{c}-{i}" for i in range(3)}
                                                  for c in range(3)]
    assert plan.gates == 0


@st.composite
def random_graphs(draw: st.DrawFn) -> Graph:
    n = draw(st.integers(1, 120))
    window = draw(st.sampled_from((1, 3, 10, 120)))
    return graph([(f"s{i}", [f"s{d}" for d in sorted(draw(st.sets(
        st.integers(max(0, i - window), i - 1), max_size=5)))] if i else [])
        for i in range(n)])


@settings(max_examples=200, deadline=None)
@given(random_graphs(), st.integers(3, 12), st.integers(5, 12), st.integers(1, 4))
def test_any_graph_splits_within_any_limits(g: Graph, tasks: int, templates: int,
                                            kinds: int) -> None:
    limits = ArgoLimits(tasks=tasks, templates=templates)
    step_costs = {n: StepCost(f"t{i % kinds}", 100, 100) for i, n in enumerate(g.names)}
    plan = plan_parts(g, step_costs, limits)
    check_plan(g, plan, limits)
    for workflow in plan.workflows:
        used = {step_costs[s].template for p in workflow for s in p.steps}
        assert len(used) + RESERVED_TEMPLATES + (len(workflow) if len(workflow) > 1 else 0) \
            <= limits.templates
    assert plan == plan_parts(g, step_costs, limits)  # deterministic
