"""A pure simulator of how Argo runs the DAG templates of one or several Workflows,
nested DAGs included, step by step, with the orch controller releasing the gates of
a split run (compiler.gates) in between: what the property tests run the compiler's
split output on, thousands of times, where the real Argo takes minutes per run.

Read from argoproj/argo-workflows v4.0.5 (the test cluster's Argo):

- workflow/controller/dag.go `executeDAG` (l.230-395): the target tasks are the
  leaves, sorted by name (`findLeafTaskNames`, l.839-857); each is executed (l.284),
  which first executes its dependencies (`executeDAGTask`, l.534-538); then the DAG's
  phase is assessed (l.321, `assessDAGPhase`) and set when no longer Running
  (l.326-336, l.394).
- dag.go `executeDAGTask` (l.421-669): a task whose node is fulfilled is left alone
  (l.448-493); a task whose dependencies are not all fulfilled waits
  (`evaluateDependsLogic`, l.941-944); when all are, their results are evaluated
  against the task's expanded `dependencies` (l.970-987): `(D.Succeeded ||
  D.Skipped || D.Daemoned)` per dependency, `|| D.Failed` when D has
  `continueOn.failed`, `|| D.Errored` for `continueOn.error`, all joined with `&&`
  (workflow/common/ancestry.go `expandDependency`, l.124-137); false: the task's node
  is created `Omitted` ("omitted: depends condition not met", l.549-553); true: its
  template is executed (l.621). A node becomes a child of each dependency's node,
  a root task's of the DAG's own node (`connectDependencies`, l.508-532).
- A DAG task whose template is a DAG runs that DAG as a nested node (its tasks'
  boundary); an existing Running DAG node is executed again on every pass, so
  its tasks progress (l.448: only a fulfilled node is left alone).
- dag.go `assessDAGPhase` (l.134-228): a breadth-first walk from the DAG node's
  children over `children`, carrying a branch phase that starts `Succeeded`, is
  set by every completed node (Succeeded, Failed, Error) and inherited by an
  omitted one (workflow/controller/phase_node.go: a node is queued once per branch
  phase); any node not fulfilled makes the DAG Running (l.171-173); a target keeps
  the first Failed/Error branch phase it gets (l.186-188); with `failFast: false`
  the DAG is Running while a target has no phase (l.203-207), else the phase of the
  last failed target (in sorted order) whose task's `continueOn` does not cover it
  (l.209-223), else Succeeded.
- workflow/controller/operator.go `executeSuspend` (l.3784-3830): a suspend node
  with `duration: "0"` succeeds at once; one without a duration stays Running until
  someone sets its phase (`argo node set`, the orch controller).
- pkg/apis/workflow/v1alpha1/workflow_types.go: `Fulfilled` = Succeeded, Failed,
  Error, Skipped or Omitted (l.2572); `Completed` = Succeeded, Failed or Error
  (l.2578); `ContinuesOn` (l.3852-3868).
- operator.go: the Workflow's phase is its entry DAG node's once that is fulfilled.

Pods are not run: a step's pod (or a wait step's suspend node) stays Running until
the test ends it with the phase it chose for that step, in an order the test
chooses too. Retries, hooks, `when`, `depends` and parallelism are not modelled:
the compiler emits none of them in a split run's DAGs (a step's retries are its own
template's, decided inside its Retry node).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from compiler.gates import GATE_TEMPLATE, GateRelease, decide_gate, sources_of_task
from compiler.outcome import OUTCOME_TEMPLATE
from compiler.resume import REUSED_TEMPLATE
from orchapi.api import Obj
from orchapi.graph import Graph
from orchapi.semantics import Observation, RunResult, Seen, evaluate

Path = tuple[str, ...]  # task names from the entry DAG down to the node
SUCCEEDED, FAILED, ERROR, OMITTED, RUNNING = "Succeeded", "Failed", "Error", "Omitted", "Running"
FULFILLED = frozenset({SUCCEEDED, FAILED, ERROR, "Skipped", OMITTED})
COMPLETED = frozenset({SUCCEEDED, FAILED, ERROR})


@dataclass
class Node:
    kind: str  # DAG, Pod, Suspend, Skipped
    template: str
    phase: str
    started: int
    finished: int | None = None
    children: list[Path] = field(default_factory=list)
    task: Obj = field(default_factory=dict)
    gate: tuple[str, ...] = ()  # a gate's sources


@dataclass
class Workflow:
    """One Workflow's spec and the nodes Argo made for it."""

    spec: Obj
    nodes: dict[Path, Node] = field(default_factory=dict)
    phase: str = RUNNING

    @property
    def templates(self) -> dict[str, Obj]:
        return {t["name"]: t for t in self.spec["spec"]["templates"]}


@dataclass
class Simulation:
    workflows: list[Workflow]
    graph: Graph  # the run's steps, as the controller reads them
    fates: Mapping[str, str]  # step -> Succeeded/Failed/Error, when it gets to run
    reused: frozenset[str] = frozenset()
    clock: int = 0
    steps: dict[str, tuple[int, Path]] = field(default_factory=dict)  # step -> wf, path

    # -- Argo -----------------------------------------------------------------------
    def operate(self) -> bool:
        """One pass of Argo's operator over every Workflow; True if a node changed."""
        changed = False
        for w, wf in enumerate(self.workflows):
            if wf.phase != RUNNING:
                continue
            before = _snapshot(wf)
            entry = wf.spec["spec"]["entrypoint"]
            root = wf.nodes.get(())
            if root is None:
                wf.nodes[()] = root = Node("DAG", entry, RUNNING, self.clock)
            self._execute_dag(w, wf, (), wf.templates[entry])
            if root.phase in FULFILLED:
                wf.phase = root.phase
            changed |= before != _snapshot(wf)
        return changed

    def _execute_dag(self, w: int, wf: Workflow, boundary: Path, template: Obj) -> None:
        tasks = {t["name"]: t for t in template["dag"]["tasks"]}
        depended = {d for t in tasks.values() for d in t.get("dependencies") or ()}
        targets = sorted(n for n in tasks if n not in depended)  # findLeafTaskNames
        visited: set[str] = set()
        for name in targets:
            self._execute_task(w, wf, boundary, tasks, name, visited)
        phase = self._assess(wf, boundary, targets, tasks)
        if phase != RUNNING:
            node = wf.nodes[boundary]
            node.phase, node.finished = phase, self.clock

    def _execute_task(self, w: int, wf: Workflow, boundary: Path, tasks: Mapping[str, Obj],
                      name: str, visited: set[str]) -> None:
        if name in visited:
            return
        visited.add(name)
        path = (*boundary, name)
        node = wf.nodes.get(path)
        task = tasks[name]
        if node is not None and node.phase in FULFILLED:
            return
        deps = list(task.get("dependencies") or ())
        if node is None and deps:
            for dep in deps:
                self._execute_task(w, wf, boundary, tasks, dep, visited)
            dep_nodes = [wf.nodes.get((*boundary, d)) for d in deps]
            if any(n is None or n.phase not in FULFILLED for n in dep_nodes):
                return  # a dependency has not ended
            execute = all(_satisfies(n.phase, tasks[d])  # type: ignore[union-attr]
                          for n, d in zip(dep_nodes, deps, strict=True))
            if not execute:
                wf.nodes[path] = Node("Skipped", task.get("template", ""), OMITTED,
                                      self.clock, self.clock, task=task)
                self._connect(wf, boundary, deps, path)
                return
        if node is None:
            node = self._start(w, wf, path, task)
            self._connect(wf, boundary, deps, path)
        if node.kind == "DAG" and node.phase == RUNNING:
            self._execute_dag(w, wf, path, wf.templates[node.template])

    def _start(self, w: int, wf: Workflow, path: Path, task: Obj) -> Node:
        template_name = task.get("template", "")
        template = wf.templates.get(template_name, {})
        if "dag" in template:
            node = Node("DAG", template_name, RUNNING, self.clock, task=task)
        elif "suspend" in template and template["suspend"].get("duration") == "0":
            node = Node("Suspend", template_name, SUCCEEDED, self.clock, self.clock, task=task)
        elif "suspend" in template:
            node = Node("Suspend", template_name, RUNNING, self.clock, task=task)
        else:  # a pod: container, resource, or a templateRef
            node = Node("Pod", template_name, RUNNING, self.clock, task=task)
        if template_name == GATE_TEMPLATE:
            node.gate = sources_of_task(task) or ()
        elif template_name != OUTCOME_TEMPLATE and "dag" not in template:
            self.steps[path[-1]] = (w, path)
        wf.nodes[path] = node
        return node

    @staticmethod
    def _connect(wf: Workflow, boundary: Path, deps: Sequence[str], path: Path) -> None:
        parents = [(*boundary, d) for d in deps] or [boundary]
        for parent in parents:
            wf.nodes[parent].children.append(path)

    @staticmethod
    def _assess(wf: Workflow, boundary: Path, targets: Sequence[str],
                tasks: Mapping[str, Obj]) -> str:
        target_phase = {(*boundary, t): "" for t in targets}
        queue = [(child, SUCCEEDED) for child in wf.nodes[boundary].children]
        seen = set(queue)
        while queue:
            path, branch = queue.pop(0)
            node = wf.nodes.get(path)
            if node is None or node.phase not in FULFILLED:
                return RUNNING
            if node.phase in COMPLETED:
                branch = node.phase
            if path in target_phase and target_phase[path] not in (FAILED, ERROR):
                target_phase[path] = branch
            for child in node.children:
                if (child, branch) not in seen:
                    seen.add((child, branch))
                    queue.append((child, branch))
        result = SUCCEEDED
        for t in targets:
            phase = target_phase[(*boundary, t)]
            if phase == "":
                return RUNNING
            if phase in (FAILED, ERROR) and not _continues(tasks[t], phase):
                result = phase
        return result

    # -- the world around Argo ---------------------------------------------------------
    def running_steps(self) -> list[str]:
        """Steps whose pod (or wait) runs: the test ends them."""
        return [s for s, (w, path) in self.steps.items()
                if self.workflows[w].nodes[path].phase == RUNNING]

    def end_step(self, step: str) -> None:
        w, path = self.steps[step]
        node = self.workflows[w].nodes[path]
        node.phase, node.finished = self.fates.get(step, SUCCEEDED), self.clock

    def observe(self) -> RunResult:
        """What the controller's mirror reads: each step's node as an observation,
        the run's steps decided by the one §3 function."""
        known: dict[str, Observation] = {}
        for step, (w, path) in self.steps.items():
            node = self.workflows[w].nodes[path]
            if node.template == REUSED_TEMPLATE and node.phase == SUCCEEDED:
                known[step] = Observation(Seen.REUSED)
            else:
                known[step] = Observation(_OBSERVED.get(node.phase, Seen.NOT_STARTED))
        return evaluate(self.graph, known)

    def release_gates(self) -> list[tuple[Path, GateRelease]]:
        """The controller's gate releases (compiler.gates.decide_gate), applied as
        `argo node set` applies them; the releases made."""
        result = self.observe()
        made = []
        for wf in self.workflows:
            for path, node in wf.nodes.items():
                if node.template != GATE_TEMPLATE or node.phase != RUNNING:
                    continue
                release = decide_gate([result.by_name[s] for s in node.gate])
                if release is not None:
                    node.phase, node.finished = release.phase, self.clock
                    made.append((path, release))
        return made

    def run(self, rnd: random.Random, on_tick: Callable[[Simulation], None] | None = None,
            limit: int = 100_000) -> None:
        """Until every Workflow has ended: Argo operates to a standstill, then one
        event, chosen at random among those that can happen now: a running step
        ends, or the controller releases the gates it can."""
        for _ in range(limit):
            while self.operate():
                self.clock += 1
            if on_tick is not None:
                on_tick(self)
            if all(wf.phase != RUNNING for wf in self.workflows):
                return
            running = self.running_steps()
            waiting = self._gates_waiting()
            self.clock += 1
            if running and (rnd.random() < 0.7 or not waiting):
                self.end_step(rnd.choice(running))
            elif waiting and self.release_gates():
                pass
            elif running:
                self.end_step(rnd.choice(running))
            else:
                raise AssertionError("stuck: nothing runs and no gate can be released")
        raise AssertionError("the run did not end")

    def _gates_waiting(self) -> bool:
        return any(n.template == GATE_TEMPLATE and n.phase == RUNNING
                   for wf in self.workflows for n in wf.nodes.values())


_OBSERVED = {RUNNING: Seen.RUNNING, SUCCEEDED: Seen.SUCCEEDED,
             FAILED: Seen.FAILED, ERROR: Seen.ERRORED}


def _satisfies(phase: str, dependency: Obj) -> bool:
    """ancestry.go expandDependency: what of a dependency lets its dependent run."""
    return phase in (SUCCEEDED, "Skipped", "Daemoned") or _continues(dependency, phase)


def _continues(task: Obj, phase: str) -> bool:
    on = task.get("continueOn") or {}
    return bool((phase == FAILED and on.get("failed")) or (phase == ERROR and on.get("error")))


def _snapshot(wf: Workflow) -> tuple[tuple[Path, str], ...]:
    return tuple((p, n.phase) for p, n in wf.nodes.items())


def simulate(workflows: Sequence[Obj], graph: Graph, fates: Mapping[str, str],
             rnd: random.Random, reused: frozenset[str] = frozenset(),
             on_tick: Callable[[Simulation], None] | None = None) -> Simulation:
    sim = Simulation([Workflow(w) for w in workflows], graph, fates, reused)
    sim.run(rnd, on_tick)
    return sim
