"""Steps -> DAG templates of at most 200 tasks -> Workflows within Argo's limits
(contract §8), as a pure function of the step graph and what each step costs.

Why: Argo's v4 full CRDs cap a DAG template at 200 tasks and a Workflow at 200
templates, and etcd caps the object near 1 MiB; a bigger DAG must be split. An
edge between two parts is honoured by a gate (`compiler.gates`): a suspend task in
the dependent's part that the controller releases when the dependency ends. Parts
need no order among themselves (a gate waits for one step, never for a part), so
the split is a plain capacity-bounded partition and its only cost is the gates.

What is minimised: the gates. A part needs a gate for every *signature*: the set
of its steps that depend on some step outside it. Steps outside the part with the
same signature share one gate (it passes when all of them passed; every step
behind it depends on all of them), so a step that joins 9,999 others needs one gate
per part they stand in, not 9,999. Before signatures are merged, the count is the
(λ-1) connectivity of the hypergraph whose nets are each step with its dependents.

How (greedy graph growing, as METIS seeds its partitions): a part starts at the
earliest unplaced step of a breadth-first topological order and grows by taking,
again and again, the earliest unplaced step with an edge into the part, until the
next one does not fit; with no such step, the earliest unplaced one. A chain stays
whole, parallel chains stay apart even when declared interleaved, a fan fills
parts with siblings, a graph of local edges is cut at few places
(benchmarks/partition_cut.py measures it against filling parts in topological
order). Parts are then packed into Workflows in the order they were made. Linear
in steps + edges up to a log factor; deterministic (ties broken by that order).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# The numbers, in `compiler.limits` (every compile reads them); re-exported here.
from compiler.limits import ARGO_LIMITS as ARGO_LIMITS
from compiler.limits import GATE_DEPENDENCY_BYTES as GATE_DEPENDENCY_BYTES
from compiler.limits import GATE_SOURCE_BYTES as GATE_SOURCE_BYTES
from compiler.limits import GATE_TASK_BYTES as GATE_TASK_BYTES
from compiler.limits import MAX_TEMPLATES as MAX_TEMPLATES
from compiler.limits import MAX_WORKFLOW_BYTES as MAX_WORKFLOW_BYTES
from compiler.limits import NODE_STATUS_BYTES as NODE_STATUS_BYTES
from compiler.limits import PART_TASK_BYTES as PART_TASK_BYTES
from compiler.limits import PART_TEMPLATE_BYTES as PART_TEMPLATE_BYTES
from compiler.limits import RESERVED_TASKS as RESERVED_TASKS
from compiler.limits import RESERVED_TEMPLATES as RESERVED_TEMPLATES
from compiler.limits import WORKFLOW_BUDGET as WORKFLOW_BUDGET
from compiler.limits import ArgoLimits as ArgoLimits
from orchapi.graph import Graph, topological_order


@dataclass(frozen=True, slots=True)
class StepCost:
    """What one step adds to a Workflow: its template (by its interned name; None
    when it has none of its own, e.g. a `templateRef` task), the JSON bytes of its
    task and of that template, and the Argo nodes it makes (a Retry node and its
    attempts when it retries)."""

    template: str | None = None
    task_bytes: int = 100
    template_bytes: int = 0
    nodes: int = 1


@dataclass(frozen=True, slots=True)
class Gate:
    """A gate task in a part: passes once every source has ended so that its
    dependents may run (contract §3); every target depends on every source."""

    sources: tuple[str, ...]  # declaration order
    targets: tuple[str, ...]  # declaration order


@dataclass(frozen=True, slots=True)
class Part:
    """One DAG template: its steps (declaration order) and its gates."""

    steps: tuple[str, ...]
    gates: tuple[Gate, ...]

    @property
    def tasks(self) -> int:
        return len(self.steps) + len(self.gates)


@dataclass(frozen=True)
class Plan:
    """Parts grouped by Workflow, in order."""

    workflows: tuple[tuple[Part, ...], ...]

    @property
    def parts(self) -> tuple[Part, ...]:
        return tuple(p for w in self.workflows for p in w)

    @property
    def gates(self) -> int:
        return sum(len(p.gates) for p in self.parts)

    @property
    def gated_edges(self) -> int:
        """Edges that cross parts (each is honoured through some gate)."""
        return sum(len(g.sources) * len(g.targets) for p in self.parts for g in p.gates)

    def part_of(self) -> dict[str, int]:
        """Each step's part, numbered across Workflows from 0."""
        return {s: i for i, p in enumerate(self.parts) for s in p.steps}


class TooLargeError(ValueError):
    """One step cannot fit a Workflow on its own (its template and task alone pass
    the budget): no split helps."""

    def __init__(self, step: str, size: int, budget: int) -> None:
        super().__init__(f"step {step!r} alone needs {size} bytes; a Workflow holds {budget}")
        self.step, self.size, self.budget = step, size, budget


def breadth_first_order(graph: Graph) -> list[str]:
    """A topological order, layer by layer (Kahn's algorithm, ties by declaration
    order: orchapi.graph.topological_order)."""
    return topological_order(graph)


@dataclass
class _Growing:
    """The part being grown: its steps, and for every step outside it that some
    member depends on, the signature (the members depending on it, as an interned
    id) that decides which gate it shares; running totals of what it weighs."""

    limits: ArgoLimits
    costs: Mapping[str, StepCost]
    steps: list[str] = field(default_factory=list)
    members: set[str] = field(default_factory=set)
    templates: set[str] = field(default_factory=set)
    template_bytes: int = 0
    task_bytes: int = 0
    nodes: int = 0
    signature: dict[str, int] = field(default_factory=dict)  # outside source -> sig id
    holders: dict[int, int] = field(default_factory=dict)  # sig id -> sources with it
    source_bytes: int = 0  # names of the gates' sources
    gated: int = 0  # (member, gate) dependencies, about

    def size(self, template_bytes: int, gates: int, source_bytes: int, task_bytes: int,
             nodes: int, gated: int) -> int:
        """The bytes of a Workflow holding this part alone: its tasks and templates,
        its gates (whose sources' names stand in the spec and again in the node
        status), and the node status of every task."""
        return (task_bytes + template_bytes + PART_TEMPLATE_BYTES
                + gates * GATE_TASK_BYTES + 2 * source_bytes + gated * GATE_DEPENDENCY_BYTES
                + (nodes + gates + 2) * self.limits.node_bytes)


class _Signatures:
    """Interned signatures: the id of `old + [step]` (a signature only grows, in
    the order steps join the part, so equal sets have equal sequences)."""

    def __init__(self) -> None:
        self.ids: dict[tuple[int, str], int] = {}

    def extend(self, old: int, step: str) -> int:
        key = (old, step)
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.ids) + 1
        return found


def _try_add(part: _Growing, name: str, graph: Graph, sigs: _Signatures) -> bool:
    """Add `name` to the part if the part still fits Argo's limits with it. The
    change is worked out first (a few dict entries per edge of `name`) and applied
    only when it fits."""
    node = graph.by_name[name]
    cost = part.costs[name]
    delta: dict[int, int] = {}  # sig id -> change in the sources holding it
    moved: dict[str, int] = {}  # outside source -> its new sig id (0: now inside)
    source_bytes = part.source_bytes
    if name in part.signature:  # it was an outside source of the part: now inside
        old = part.signature[name]
        delta[old] = delta.get(old, 0) - 1
        moved[name] = 0
        source_bytes -= len(name) + GATE_SOURCE_BYTES
    new_gates: set[int] = set()
    for dep in dict.fromkeys(node.dependencies):
        if dep in part.members:
            continue
        old = part.signature.get(dep, 0)
        if old:
            delta[old] = delta.get(old, 0) - 1
        else:
            source_bytes += len(dep) + GATE_SOURCE_BYTES
        new = sigs.extend(old, name)
        delta[new] = delta.get(new, 0) + 1
        moved[dep] = new
        new_gates.add(new)
    holders = part.holders
    gates = len(holders) + sum((holders.get(sig, 0) + d > 0) - (holders.get(sig, 0) > 0)
                               for sig, d in delta.items())
    gated = part.gated + len(new_gates)
    new_template = cost.template is not None and cost.template not in part.templates
    templates = len(part.templates) + new_template
    template_bytes = part.template_bytes + (cost.template_bytes if new_template else 0)
    task_bytes = part.task_bytes + cost.task_bytes
    nodes = part.nodes + cost.nodes
    size = part.size(template_bytes, gates, source_bytes, task_bytes, nodes, gated)
    fits = (len(part.steps) + 1 + gates + RESERVED_TASKS <= part.limits.tasks
            and templates + RESERVED_TEMPLATES <= part.limits.templates
            and size <= part.limits.bytes)
    if not fits and part.steps:
        return False
    if not fits:  # alone and still too large: no split helps
        raise TooLargeError(name, size, part.limits.bytes)
    part.steps.append(name)
    part.members.add(name)
    if new_template:
        part.templates.add(str(cost.template))
    part.template_bytes, part.task_bytes, part.nodes = template_bytes, task_bytes, nodes
    part.source_bytes, part.gated = source_bytes, gated
    for sig, d in delta.items():
        held = holders.get(sig, 0) + d
        if held:
            holders[sig] = held
        else:
            holders.pop(sig, None)
    for dep, sig in moved.items():
        if sig:
            part.signature[dep] = sig
        else:
            del part.signature[dep]
    return True


def partition_steps(graph: Graph, costs: Mapping[str, StepCost], limits: ArgoLimits = ARGO_LIMITS,
                    order: Sequence[str] | None = None, grow: bool = True) -> list[list[str]]:
    """Steps grouped into parts (greedy graph growing; see the module's docstring),
    each part's steps in the order they joined it. `order` (default: breadth-first
    topological) ranks the steps; without `grow` a part takes the steps in that
    order, connected or not (the baselines `benchmarks/partition_cut.py` measures)."""
    order = list(order) if order is not None else breadth_first_order(graph)
    rank = {name: i for i, name in enumerate(order)}
    dependents = graph.dependents
    placed: set[str] = set()
    parts: list[list[str]] = []
    sigs = _Signatures()
    cursor = 0
    while len(placed) < len(order):
        part = _Growing(limits, costs)
        frontier: list[tuple[int, str]] = []  # unplaced steps with an edge into the part
        while True:
            while frontier and frontier[0][1] in placed:
                heapq.heappop(frontier)
            if frontier:
                name = frontier[0][1]
            elif cursor < len(order):
                name = order[cursor]
            else:
                break
            if not _try_add(part, name, graph, sigs):
                break
            placed.add(name)
            while cursor < len(order) and order[cursor] in placed:
                cursor += 1
            if grow:
                for other in (*graph.by_name[name].dependencies, *dependents[name]):
                    if other not in placed:
                        heapq.heappush(frontier, (rank[other], other))
        parts.append(part.steps)
    return parts


def gates_of(steps: Sequence[str], graph: Graph,
             index: Mapping[str, int] | None = None) -> tuple[Gate, ...]:
    """The gates a part holding `steps` needs: one per signature (the part's steps
    depending on an outside step), sources and targets in declaration order, gates
    in the order of their first target, then of their first source. `index`: each
    step's declaration index (computed when not given)."""
    index = index if index is not None else {n.name: i for i, n in enumerate(graph.nodes)}
    members = set(steps)
    targets_of: dict[str, list[str]] = {}
    for name in sorted(steps, key=index.__getitem__):
        for dep in dict.fromkeys(graph.by_name[name].dependencies):
            if dep not in members:
                targets_of.setdefault(dep, []).append(name)
    by_signature: dict[tuple[str, ...], list[str]] = {}
    for source in sorted(targets_of, key=index.__getitem__):
        by_signature.setdefault(tuple(targets_of[source]), []).append(source)
    gates = [Gate(tuple(sources), targets) for targets, sources in by_signature.items()]
    gates.sort(key=lambda g: (index[g.targets[0]], index[g.sources[0]]))
    return tuple(gates)


def pack_workflows(parts: Sequence[Part], costs: Mapping[str, StepCost],
                   limits: ArgoLimits = ARGO_LIMITS) -> tuple[tuple[Part, ...], ...]:
    """Parts into Workflows, in order, each Workflow as full as Argo's template
    limit and the byte budget allow (a Workflow of one part needs no entry DAG of
    its own: the part is its entry)."""
    out: list[tuple[Part, ...]] = []
    current: list[Part] = []
    templates: dict[str, int] = {}
    size = 0
    for part in parts:
        own = {c.template: c.template_bytes for s in part.steps
               if (c := costs[s]).template is not None}
        merged = {**templates, **own}
        part_size = _part_bytes(part, costs, limits)
        count = len(current) + 1
        fits = (len(merged) + count + RESERVED_TEMPLATES <= limits.templates
                and count <= limits.tasks
                and size + part_size + sum(merged.values()) <= limits.bytes)
        if current and not fits:
            out.append(tuple(current))
            current, merged, size = [], own, 0
        current.append(part)
        templates = merged
        size += part_size
    if current:
        out.append(tuple(current))
    return tuple(out)


def _part_bytes(part: Part, costs: Mapping[str, StepCost], limits: ArgoLimits) -> int:
    sources = sum(len(s) + GATE_SOURCE_BYTES for g in part.gates for s in g.sources)
    gated = sum(len(g.targets) for g in part.gates)
    nodes = sum(costs[s].nodes for s in part.steps) + len(part.gates) + 2
    return (sum(costs[s].task_bytes for s in part.steps) + PART_TASK_BYTES
            + PART_TEMPLATE_BYTES + len(part.gates) * GATE_TASK_BYTES + 2 * sources
            + gated * GATE_DEPENDENCY_BYTES + nodes * limits.node_bytes)


def plan_parts(graph: Graph, costs: Mapping[str, StepCost],
               limits: ArgoLimits = ARGO_LIMITS) -> Plan:
    """The whole split: parts (each its steps in declaration order, and its gates)
    packed into Workflows. Raises TooLargeError when one step alone is too large."""
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    grouped = partition_steps(graph, costs, limits)
    parts = [Part(tuple(sorted(steps, key=index.__getitem__)), gates_of(steps, graph, index))
             for steps in grouped]
    return Plan(pack_workflows(parts, costs, limits))
