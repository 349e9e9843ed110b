"""A run as a person reads it: every step in DAG order with its phase, reason,
the dependency it waited on, attempt, times and what it created. Pure: built
from the objects the apiserver returned, rendered by `operate.render`.

The step graph comes from the run's Workflow (what was submitted), else from the
Orchestration when its generation is the one the run recorded (a run refused
before submission, or not yet submitted), else from the run's own step list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from compiler.compiled import (
    WorkflowShapeError,
    decode_nodes,
    graph_from_workflow,
    graph_from_workflows,
    step_nodes,
)
from compiler.compiled import graph_from_orchestration as graph_of_orchestration
from compiler.compressed import UnreadableNodesError
from orchapi.api import STEP_LABEL, parse_time
from orchapi.argo import ARGO_WORKFLOW_LABEL, POD_NAME_FORMAT
from orchapi.graph import Graph, Node, topological_order
from orchapi.semantics import StepResult, first_blocking
from orchapi.vocabulary import ConditionType, StepPhase, StepReason

POD_NAMES_V1, POD_NAMES_V2 = "v1", "v2"
POD_NODE = "Pod"
_MAX_POD_PREFIX = 253 - 10 - 1  # pod_name.go: maxK8sResourceNameLength - hash length - 1
# A node below the entry DAG is `WF.TASK`, `WF.TASK(N)` (an attempt) or `WF.TASK.…`
# (inside a referenced template): the task name is all up to the first `.` or `(`.
_TASK = re.compile(r"[a-zA-Z][-a-zA-Z0-9]*")


@dataclass(frozen=True)
class StepRow:
    name: str
    kind: str
    phase: str
    reason: str | None
    message: str
    waited_on: str | None = None  # the dependency that kept it from starting
    attempt: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    depends_on: tuple[str, ...] = ()
    created: tuple[str, ...] = ()  # "pod/NAME", "AgentRun/NAME", ...
    restarts: int = 0  # pods Argo recreated before they started (failedPodRestarts)

    @property
    def is_done(self) -> bool:
        return self.phase in (StepPhase.SUCCEEDED, StepPhase.FAILED, StepPhase.SKIPPED)


@dataclass(frozen=True)
class RunView:
    name: str
    namespace: str
    orchestration: str
    phase: str
    progress: str
    steps: tuple[StepRow, ...]  # DAG order
    generation: int | None = None
    reason: str | None = None
    message: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    workflow: str | None = None
    cancel_requested: bool = False
    resumed_from: str | None = None
    notes: tuple[str, ...] = field(default=())
    # Some controller has written the run's status (observedGeneration, a condition).
    observed: bool = True

    @property
    def by_name(self) -> dict[str, StepRow]:
        return {s.name: s for s in self.steps}

    def counts(self) -> dict[str, int]:
        """Steps per phase, in the order the summary line lists them."""
        out: dict[str, int] = {str(p): 0 for p in (
            StepPhase.SUCCEEDED, StepPhase.RUNNING, StepPhase.FAILED, StepPhase.SKIPPED,
            StepPhase.PENDING)}
        for step in self.steps:
            out[step.phase] = out.get(step.phase, 0) + 1
        return out


def graph_of_workflow(workflow: Mapping[str, Any]) -> Graph | None:
    """The step graph of the run's Workflow, or None when it is not one this
    compiler emits."""
    try:
        return graph_from_workflow(workflow)
    except (WorkflowShapeError, KeyError, TypeError):
        return None


def build_view(run: Mapping[str, Any], workflow: Mapping[str, Any] | None = None,
               orchestration: Mapping[str, Any] | None = None,
               created: Mapping[str, Sequence[str]] | None = None,
               workflows: Sequence[Mapping[str, Any]] = ()) -> RunView:
    """`workflows`: a split run's Workflows (contract §8), the graph's source; the
    steps its status does not list (past its budget) are read from their nodes."""
    meta, spec = run.get("metadata") or {}, run.get("spec") or {}
    status = run.get("status") or {}
    statuses = {s["name"]: s for s in status.get("stepStatuses") or () if s.get("name")}
    notes: list[str] = []
    graph = graph_of_workflow(workflow) if workflow is not None else None
    if graph is None and workflows:
        graph = graph_from_workflows(workflows)
    if graph is not None and status.get("stepCounts") is not None:
        statuses = {**unlisted_steps(status, graph, workflows), **statuses}
    recorded = status.get("orchestrationGeneration")
    if graph is None and orchestration is not None:
        current = (orchestration.get("metadata") or {}).get("generation")
        if recorded is None or recorded == current:
            graph = graph_of_orchestration(orchestration)
        else:
            notes.append(f"the Orchestration is at generation {current}; this run was "
                         f"compiled from generation {recorded}")
    if graph is None:
        graph = Graph(tuple(Node(n, str(s.get("kind") or ""), ()) for n, s in statuses.items()))
    try:
        order = topological_order(graph)
    except ValueError:  # a cycle: an Orchestration the controller refused
        order = list(graph.names)
    rows: dict[str, StepRow] = {}
    for name in order:
        node = graph.by_name[name]
        rows[name] = _row(node, statuses.get(name), (created or {}).get(name, ()), rows)
    condition = _condition(status)
    return RunView(
        name=str(meta.get("name") or ""), namespace=str(meta.get("namespace") or ""),
        orchestration=str((spec.get("orchestrationRef") or {}).get("name") or ""),
        phase=str(status.get("phase") or StepPhase.PENDING),
        progress=str(status.get("progress") or f"0/{len(rows)}"),
        steps=tuple(rows.values()), generation=recorded,
        reason=condition.get("reason"), message=condition.get("message"),
        created_at=parse_time(meta.get("creationTimestamp")),
        started_at=parse_time(status.get("startedAt")),
        finished_at=parse_time(status.get("finishedAt")),
        workflow=(status.get("workflowRef") or {}).get("name"),
        cancel_requested=bool(spec.get("cancel")),
        resumed_from=(spec.get("resumeFrom") or {}).get("name"),
        notes=tuple(notes),
        observed=status.get("observedGeneration") is not None or bool(status.get("conditions")))


_NODE_AS = {"Succeeded": StepPhase.SUCCEEDED, "Running": StepPhase.RUNNING,
            "Failed": StepPhase.FAILED, "Error": StepPhase.FAILED,
            "Omitted": StepPhase.SKIPPED, "Skipped": StepPhase.SKIPPED}


def unlisted_steps(status: Mapping[str, Any], graph: Graph,
                   workflows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The records of the steps a budgeted status does not list (contract §8:
    past 256 KiB it lists only the steps that have not succeeded and counts the
    rest in `stepCounts`): each from its node in the run's Workflows when they can
    be read (its phase and times), else `Succeeded` when the status lists every
    step that has not succeeded (the listed ones add up to the counts)."""
    listed = {s.get("name") for s in status.get("stepStatuses") or ()}
    unsucceeded = sum(int(c.get("count") or 0) for c in status.get("stepCounts") or ()
                      if c.get("phase") != StepPhase.SUCCEEDED)
    complete = unsucceeded == sum(1 for s in status.get("stepStatuses") or ()
                                  if s.get("phase") != StepPhase.SUCCEEDED)
    kinds = {n.name: n.kind for n in graph.nodes}
    missing = set(graph.names) - listed
    nodes = step_nodes(workflows, missing)
    out: dict[str, dict[str, Any]] = {}
    for name in graph.names:
        if name not in missing:
            continue
        node = nodes.get(name)
        phase = _NODE_AS.get(str((node or {}).get("phase"))) if node else None
        if phase is None and complete:
            phase = StepPhase.SUCCEEDED
        if phase is None:
            continue
        record: dict[str, Any] = {"name": name, "kind": kinds[name], "phase": str(phase)}
        for key in ("startedAt", "finishedAt"):
            if node and node.get(key):
                record[key] = node[key]
        out[name] = record
    return out


def _row(node: Node, status: Mapping[str, Any] | None, created: Sequence[str],
         done: Mapping[str, StepRow]) -> StepRow:
    status = status or {}
    phase = str(status.get("phase") or StepPhase.PENDING)
    reason = status.get("reason") or None
    waited_on = None
    if reason == StepReason.DEPENDENCY_FAILED:
        waited_on = blocking_dependency([done[d] for d in node.dependencies if d in done])
    attempt = status.get("attempt")
    restarts = status.get("failedPodRestarts")
    ref = status.get("resourceRef") or {}
    recorded = f"{ref.get('kind')}/{ref.get('name')}" if ref.get("name") else None
    if recorded and recorded not in created:
        created = (recorded, *created)
    return StepRow(
        name=node.name, kind=str(status.get("kind") or node.kind), phase=phase,
        reason=str(reason) if reason else None,
        message=str(status.get("message") or ("not started" if not status else "")),
        waited_on=waited_on, attempt=attempt if isinstance(attempt, int) else None,
        restarts=restarts if isinstance(restarts, int) and restarts > 0 else 0,
        started_at=parse_time(status.get("startedAt")),
        finished_at=parse_time(status.get("finishedAt")),
        depends_on=node.dependencies, created=tuple(created))


def blocking_dependency(dependencies: Sequence[StepRow]) -> str | None:
    """The dependency that kept the step from starting, as `orchapi.semantics`
    decides it (`first_blocking`), from the dependencies' recorded results."""
    results = [r for r in map(_as_result, dependencies) if r is not None]
    found = first_blocking(results)
    return found.name if found is not None else None


def _as_result(row: StepRow) -> StepResult | None:
    try:
        phase = StepPhase(row.phase)
        reason = StepReason(row.reason) if row.reason else None
    except ValueError:
        return None
    return StepResult(row.name, phase, reason, row.message)


def _condition(status: Mapping[str, Any]) -> dict[str, str]:
    """The condition that explains the run: `Submitted=False` (nothing ran), else
    `Succeeded`."""
    conds = {c.get("type"): c for c in status.get("conditions") or () if isinstance(c, dict)}
    submitted = conds.get(ConditionType.SUBMITTED)
    if submitted is not None and submitted.get("status") == "False":
        return dict(submitted)
    return dict(conds.get(ConditionType.SUCCEEDED) or {})


def pod_name(workflow: str, node: Mapping[str, Any], version: str = POD_NAMES_V2) -> str:
    """The pod Argo made for a Pod node: GeneratePodName of argo-workflows v4.0.5
    (workflow/util/pod_name.go), with the template as `argo get` takes it from the
    node (workflow/util/util.go GetTemplateFromNode; cmd/argo/commands/common/get.go)."""
    if version == POD_NAMES_V1:
        return str(node.get("id"))
    name = str(node.get("name") or "")
    if name == workflow:
        return workflow
    template = (node.get("templateRef") or {}).get("template") or node.get("templateName")
    prefix = f"{workflow}-{template}" if template else workflow
    prefix = prefix[:_MAX_POD_PREFIX]
    digest = 2166136261  # FNV-1a, 32 bits (Go's hash/fnv New32a)
    for byte in name.encode():
        digest = ((digest ^ byte) * 16777619) & 0xFFFFFFFF
    return f"{prefix}-{digest}"


def created_by_step(workflow: Mapping[str, Any],
                    objects: Iterable[tuple[str, Mapping[str, Any]]] = (),
                    label_of: Mapping[str, str] | None = None,
                    split: bool = False) -> dict[str, list[str]]:
    """What each step created: its pods, named from the Workflow's Pod nodes (as
    Argo names them: no list of pods needed), and the objects of resource steps
    (kind, metadata), found by the compiler's step label and Argo's workflow label;
    `label_of` maps a step's label value back to its name. Oldest first. `split`:
    a Workflow of a split run (contract §8), whose steps sit in part DAGs
    (`WF.part-N.STEP`): a Pod node's step is its `displayName`, less an attempt's
    `(N)` (step names are unique in a run)."""

    meta = workflow.get("metadata") or {}
    wf = str(meta.get("name") or "")
    version = str((meta.get("annotations") or {}).get(POD_NAME_FORMAT) or POD_NAMES_V2)
    try:
        nodes = decode_nodes(workflow.get("status") or {}) or {}
    except UnreadableNodesError:  # the run's own status still says what is known
        nodes = {}
    out: dict[str, list[tuple[str, str]]] = {}
    prefix = f"{wf}."
    for node in nodes.values():
        name = str(node.get("name") or "")
        if node.get("type") != POD_NODE or not name.startswith(prefix):
            continue
        step = _TASK.match(str(node.get("displayName") or "") if split
                           else name[len(prefix):])
        if step is not None:
            out.setdefault(step.group(0), []).append(
                (str(node.get("startedAt") or ""), f"pod/{pod_name(wf, node, version)}"))
    for kind, obj_meta in objects:
        labels = obj_meta.get("labels") or {}
        owner = (label_of or {}).get(str(labels.get(STEP_LABEL) or ""))
        if owner is not None and labels.get(ARGO_WORKFLOW_LABEL) == wf:
            out.setdefault(owner, []).append(
                (str(obj_meta.get("creationTimestamp") or ""), f"{kind}/{obj_meta.get('name')}"))
    return {step: [name for _, name in sorted(items)] for step, items in out.items()}

