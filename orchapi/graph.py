"""Steps -> dependency graph: the mode (sequential vs DAG), topological order and
cycles. Pure and linear in steps + edges, so a 10,000-step input is judged fast.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the models (pydantic) load only where steps are parsed: a graph
    from orchapi.models import Step  # read back from a Workflow needs neither


@dataclass(frozen=True, slots=True)
class Node:
    """One step as the graph sees it."""

    name: str
    kind: str
    dependencies: tuple[str, ...]
    continue_on_failure: bool = False


@dataclass(frozen=True)
class Graph:
    """Nodes in declaration order; `dependencies` already reflect the mode."""

    nodes: tuple[Node, ...]
    sequential: bool = False

    @cached_property
    def by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    @cached_property
    def dependents(self) -> dict[str, tuple[str, ...]]:
        """Each step's direct dependents, in declaration order."""
        out: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for node in self.nodes:
            for dep in node.dependencies:
                out[dep].append(node.name)
        return {k: tuple(v) for k, v in out.items()}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)

    @property
    def edge_count(self) -> int:
        return sum(len(n.dependencies) for n in self.nodes)


def is_sequential(steps: Sequence[Step]) -> bool:
    """Sequential iff no step has the `dependsOn` key at all (contract §2.1)."""
    return not any(step.has_depends_on for step in steps)


def build_graph(steps: Sequence[Step]) -> Graph:
    """The graph of a valid step list (validated names and dependencies)."""
    if is_sequential(steps):
        nodes = tuple(
            Node(s.name, s.kind, (steps[i - 1].name,) if i else (), s.continue_on_failure)
            for i, s in enumerate(steps)
        )
        return Graph(nodes, sequential=True)
    return Graph(
        tuple(Node(s.name, s.kind, tuple(s.depends_on or ()), s.continue_on_failure) for s in steps)
    )


def topological_order(graph: Graph) -> list[str]:
    """Kahn's algorithm, ties broken by declaration order. Raises ValueError on a cycle."""
    indegree = {n.name: len(n.dependencies) for n in graph.nodes}
    ready = deque(n.name for n in graph.nodes if not n.dependencies)
    order: list[str] = []
    dependents = graph.dependents
    while ready:
        name = ready.popleft()
        order.append(name)
        for child in dependents[name]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) != len(graph.nodes):
        raise ValueError("graph has a cycle")
    return order


def find_cycles(edges: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """One cycle per non-trivial strongly connected component, as a path that
    starts and ends at the same step (`[a, b, c, a]`). Self-loops are not reported
    here (they are `InvalidDependency`). Iterative Tarjan: no recursion limit.

    `edges` maps each step to the steps it depends on; unknown targets are ignored.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = edges[node]
            recursed = False
            while i < len(targets):
                target = targets[i]
                i += 1
                if target not in edges or target == node:
                    continue
                if target not in index:
                    work.append((node, i))
                    work.append((target, 0))
                    recursed = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if recursed:
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    order = {name: i for i, name in enumerate(edges)}
    cycles = [_cycle_path(sorted(c, key=order.__getitem__), edges) for c in components]
    cycles.sort(key=lambda path: order[path[0]])
    return cycles


def _cycle_path(component: list[str], edges: Mapping[str, Sequence[str]]) -> list[str]:
    """A shortest cycle through the component's first-declared step (BFS)."""
    members = set(component)
    start = component[0]
    parent: dict[str, str] = {}
    frontier = [start]
    seen = {start}
    while frontier:
        nxt: list[str] = []
        for node in frontier:
            for target in edges[node]:
                if target not in members or target == node:
                    continue
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    # path runs start <- ... <- node; edges point at dependencies,
                    # so read it as "start depends on ... depends on start".
                    path.reverse()
                    return [*path, start]
                if target not in seen:
                    seen.add(target)
                    parent[target] = node
                    nxt.append(target)
        frontier = nxt
    return [start, start]  # unreachable for a real SCC
