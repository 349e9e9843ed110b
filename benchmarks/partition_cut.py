"""How many edges the split of a run cuts, and what it costs in gates (contract §8):
the partitioner (compiler.partition, greedy graph growing along edges in
breadth-first topological order) against two baselines with the same capacity
rule, on chains,
chains of diamonds, wide fans (with and without a join), parallel chains and
random DAGs. `python -m benchmarks.partition_cut` prints the table docs/scale.md
quotes.

- layers: steps in breadth-first topological order (Kahn, a FIFO: layer by layer),
  each part filled in that order;
- depth-first: steps in depth-first topological order, filled in that order;
- grown: the compiler's (parts grow along edges, earliest step first in
  breadth-first order).

A cut edge is a dependency whose two steps stand in different parts; a gate is
what the compiler emits for them (one per part and signature, so a gate often
stands for several cut edges).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from compiler.partition import (
    ARGO_LIMITS,
    StepCost,
    breadth_first_order,
    gates_of,
    partition_steps,
)
from orchapi.graph import Graph, Node

Shape = Callable[[], Graph]


def _graph(edges: list[tuple[str, list[str]]]) -> Graph:
    return Graph(tuple(Node(name, "Container", tuple(deps)) for name, deps in edges))


def chain(n: int) -> Graph:
    return _graph([(f"s{i}", [f"s{i - 1}"] if i else []) for i in range(n)])


def diamonds(n: int) -> Graph:
    """top -> left, right -> bottom, bottom is the next diamond's top."""
    edges: list[tuple[str, list[str]]] = [("d0-top", [])]
    for d in range(n // 3):
        top = f"d{d}-top"
        edges += [(f"d{d}-l", [top]), (f"d{d}-r", [top]), (f"d{d + 1}-top",
                                                             [f"d{d}-l", f"d{d}-r"])]
    return _graph(edges[:n])


def fan(n: int, join: bool) -> Graph:
    leaves = n - 1 - join
    edges: list[tuple[str, list[str]]] = [("root", [])]
    edges += [(f"leaf{i}", ["root"]) for i in range(leaves)]
    if join:
        edges.append(("join", [f"leaf{i}" for i in range(leaves)]))
    return _graph(edges)


def parallel_chains(n: int, count: int) -> Graph:
    """`count` chains declared interleaved (layer by layer), as generated code does."""
    length = n // count
    return _graph([(f"c{c}-{i}", [f"c{c}-{i - 1}"] if i else [])
                   for i in range(length) for c in range(count)])


def random_dag(n: int, window: int, seed: int = 7) -> Graph:
    """Each step depends on 1-3 of the `window` steps before it (the benchmarks'
    input shape when `window` is 50)."""
    rng = random.Random(seed)
    return _graph([(f"s{i}", sorted({f"s{rng.randrange(max(0, i - window), i)}"
                                     for _ in range(rng.randint(1, 3))}) if i else [])
                   for i in range(n)])


def depth_first_order(graph: Graph) -> list[str]:
    """A topological order that follows each chain as far as it goes (Kahn's
    algorithm with a stack, ties by declaration order)."""
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    indegree = {n.name: len(n.dependencies) for n in graph.nodes}
    ready = [n.name for n in reversed(graph.nodes) if not n.dependencies]
    order: list[str] = []
    while ready:
        name = ready.pop()
        order.append(name)
        freed = []
        for child in graph.dependents[name]:
            indegree[child] -= 1
            if indegree[child] == 0:
                freed.append(child)
        ready.extend(sorted(freed, key=index.__getitem__, reverse=True))
    return order


def measure(graph: Graph, strategy: str) -> tuple[int, int, int]:
    """(parts, cut edges, gates) of one strategy."""
    costs = {n: StepCost("t", 200, 500) for n in graph.names}
    if strategy == "layers":
        parts = partition_steps(graph, costs, ARGO_LIMITS, breadth_first_order(graph), False)
    elif strategy == "depth-first":
        parts = partition_steps(graph, costs, ARGO_LIMITS, depth_first_order(graph), False)
    else:
        parts = partition_steps(graph, costs, ARGO_LIMITS)
    index = {n: i for i, n in enumerate(graph.names)}
    part_of = {s: p for p, steps in enumerate(parts) for s in steps}
    cut = sum(1 for node in graph.nodes for d in node.dependencies
              if part_of[d] != part_of[node.name])
    gates = sum(len(gates_of(steps, graph, index)) for steps in parts)
    return len(parts), cut, gates


SHAPES: dict[str, Shape] = {
    "chain": lambda: chain(10_000),
    "chain of diamonds": lambda: diamonds(10_000),
    "wide fan (1 -> 9,999)": lambda: fan(10_000, join=False),
    "fan and join (1 -> 9,998 -> 1)": lambda: fan(10_000, join=True),
    "100 parallel chains of 100": lambda: parallel_chains(10_000, 100),
    "random, 1-3 deps within 5 back": lambda: random_dag(10_000, 5),
    "random, 1-3 deps within 50 back": lambda: random_dag(10_000, 50),
    "random, 1-3 deps anywhere before": lambda: random_dag(10_000, 10_000),
}
STRATEGIES = ("layers", "depth-first", "grown")


def table() -> list[str]:
    """Markdown rows: shape, edges, then cut edges / gates per strategy."""
    rows = ["| 10,000 steps | edges | " + " | ".join(
        f"{s}: cut / gates" for s in STRATEGIES) + " | parts |",
        "|---|---:|" + "---:|" * len(STRATEGIES) + "---:|"]
    for name, make in SHAPES.items():
        graph = make()
        results = [measure(graph, s) for s in STRATEGIES]
        cells = [f"{cut:,} / {gates:,}" for _, cut, gates in results]
        rows.append(f"| {name} | {graph.edge_count:,} | {' | '.join(cells)} | "
                    f"{results[-1][0]} |")
    return rows


if __name__ == "__main__":
    print("\n".join(table()))
