"""Argo Workflow status -> the run's status (contract §5), as pure functions.

Why pure: the mapping from Argo's node model to step phases is the part most
likely to be subtly wrong, so it is a function of data alone (the Workflow as the
apiserver returns it, the run's previous status, the time) that unit tests drive
with hand-written node maps, and the e2e tests with real ones.

How: each step's node is found by `displayName` among the nodes whose
`boundaryID` is the entry DAG node (never by recomputing Argo's node IDs); its
phase becomes an `Observation`, and `compiler.semantics.evaluate` (the one
implementation of §3) decides every step's phase and reason and the run's phase.
The step graph is read from the Workflow itself (its entry DAG's tasks), because
a submitted run does not change when its Orchestration is edited later.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.api import STEP_KINDS_ANNOTATION
from compiler.graph import Graph, Node
from compiler.semantics import Condition, Observation, Observed, RunResult, evaluate
from compiler.vocabulary import (
    ARGO_DONE,
    RUN_DONE,
    ArgoNodeType,
    ArgoPhase,
    ConditionStatus,
    ConditionType,
    NodeStatusReason,
    RunPhase,
    StepPhase,
    StepReason,
    SubmitReason,
)

Obj = dict[str, Any]

# Argo's messages for a step that hit its `timeout` / activeDeadlineSeconds.
_TIMEOUT = re.compile(r"deadline|timeout|timed out", re.IGNORECASE)
# Argo's messages for nodes it failed while shutting the Workflow down.
_SHUTDOWN = re.compile(r"shutdown|stopped with strategy|terminated with strategy", re.IGNORECASE)


@dataclass(frozen=True)
class Mirror:
    """What the run's status should say about its Workflow."""

    phase: str
    step_statuses: list[Obj]
    conditions: tuple[Condition, ...]
    progress: str
    started_at: str | None = None
    finished_at: str | None = None


# What the mirror reads of a Workflow, and so all the controller keeps of one in its
# cache (`workflow_view`). `mirror_workflow` reads only the view, so a field read
# here but not listed is missing in the unit tests too: change both together.
_META_KEYS = ("name", "namespace", "uid", "resourceVersion", "generation", "labels",
              "annotations", "ownerReferences", "deletionTimestamp")
_SPEC_KEYS = ("entrypoint", "shutdown", "activeDeadlineSeconds")
_TASK_KEYS = ("name", "dependencies", "depends", "continueOn", "template")
_STATUS_KEYS = ("phase", "startedAt", "finishedAt", "message", "nodes", "compressedNodes",
                "offloadNodeStatusVersion")
_NODE_KEYS = ("id", "name", "displayName", "type", "templateName", "phase", "message",
              "boundaryID", "children", "startedAt", "finishedAt", "nodeFlag")


def _pick(obj: Mapping[str, Any] | None, keys: Sequence[str]) -> Obj:
    return {k: obj[k] for k in keys if obj and k in obj}


def workflow_view(workflow: Mapping[str, Any]) -> Obj:
    """The Workflow cut to what this module reads: metadata, the entry DAG's tasks,
    `spec.shutdown` and the deadline, and the status with each node's own fields
    (no templates, pod specs, outputs or managedFields). Idempotent."""
    spec = workflow.get("spec") or {}
    entry = spec.get("entrypoint")
    view_spec = _pick(spec, _SPEC_KEYS)
    for t in spec.get("templates") or ():
        if t.get("name") == entry and "dag" in t:
            tasks = [_pick(task, _TASK_KEYS) for task in t["dag"].get("tasks") or ()]
            view_spec["templates"] = [{"name": entry, "dag": {"tasks": tasks}}]
            break
    status = _pick(workflow.get("status"), _STATUS_KEYS)
    if isinstance(status.get("nodes"), Mapping):
        status["nodes"] = {k: _pick(n, _NODE_KEYS) for k, n in status["nodes"].items()}
    out: Obj = {"metadata": _pick(workflow.get("metadata"), _META_KEYS), "spec": view_spec,
                "status": status}
    for k in ("apiVersion", "kind"):
        if k in workflow:
            out[k] = workflow[k]
    return out


class WorkflowShapeError(ValueError):
    """The Workflow is not one this compiler emits (no entry DAG template)."""


def graph_from_workflow(workflow: Mapping[str, Any]) -> Graph:
    """The step graph of a compiled Workflow: its entry DAG's tasks, in order."""
    spec = workflow.get("spec") or {}
    entry = spec.get("entrypoint")
    template = next((t for t in spec.get("templates") or () if t.get("name") == entry), None)
    if template is None or "dag" not in template:
        raise WorkflowShapeError(f"the Workflow has no DAG template named {entry!r}")
    annotations = (workflow.get("metadata") or {}).get("annotations") or {}
    kinds: dict[str, str] = json.loads(annotations.get(STEP_KINDS_ANNOTATION) or "{}")
    return Graph(tuple(
        Node(t["name"], kinds.get(t["name"], ""), tuple(t.get("dependencies") or ()),
             bool((t.get("continueOn") or {}).get("failed")))
        for t in template["dag"].get("tasks") or ()
    ))


def decode_nodes(status: Mapping[str, Any]) -> dict[str, Obj] | None:
    """`status.nodes`, or `status.compressedNodes` (base64 of gzipped JSON) decoded;
    None when Argo offloaded them to its database (`offloadNodeStatusVersion`)."""
    if status.get("nodes"):
        return dict(status["nodes"])
    if status.get("compressedNodes"):
        raw = gzip.decompress(base64.b64decode(status["compressedNodes"]))
        nodes: dict[str, Obj] = json.loads(raw)
        return nodes
    if status.get("offloadNodeStatusVersion"):
        return None
    return {}


def entry_node_id(workflow: Mapping[str, Any], nodes: Mapping[str, Obj]) -> str | None:
    """The entry DAG node: Argo gives the Workflow's root node the Workflow's name;
    failing that, the boundary-less DAG node of the entry template."""
    name = (workflow.get("metadata") or {}).get("name")
    if name in nodes:
        return str(name)
    entry = (workflow.get("spec") or {}).get("entrypoint")
    for node_id, node in nodes.items():
        if node.get("type") == ArgoNodeType.DAG and node.get("templateName") == entry \
                and not node.get("boundaryID"):
            return node_id
    return None


def step_nodes(nodes: Mapping[str, Obj], entry_id: str | None,
               names: Sequence[str]) -> dict[str, Obj]:
    """Each step's node: displayName == step name inside the entry DAG's boundary
    (with retries, that is the Retry node; its attempts are named `step(0)`, ...)."""
    if entry_id is None:
        return {}
    wanted = set(names)
    return {n["displayName"]: n for n in nodes.values()
            if n.get("boundaryID") == entry_id and n.get("displayName") in wanted}


def observe(node: Mapping[str, Any]) -> Observation:
    """One Argo node -> what §3 knows of the step."""
    phase, message = node.get("phase"), node.get("message") or None
    if phase == ArgoPhase.RUNNING:
        return Observation(Observed.RUNNING, message)
    if phase == ArgoPhase.SUCCEEDED:
        return Observation(Observed.SUCCEEDED, message)
    if phase == ArgoPhase.FAILED:
        if message and _SHUTDOWN.search(message):
            return Observation(Observed.INTERRUPTED, message)
        if message and _TIMEOUT.search(message):
            return Observation(Observed.TIMED_OUT, message)
        return Observation(Observed.FAILED, message)
    if phase == ArgoPhase.ERROR:
        if message and _SHUTDOWN.search(message):
            return Observation(Observed.INTERRUPTED, message)
        return Observation(Observed.ERRORED, message)
    # Pending: nothing ran yet. Omitted: Argo will never run it (§3 derives why).
    return Observation(Observed.NOT_STARTED, None)


def _attempt(node: Mapping[str, Any]) -> int | None:
    if node.get("type") == ArgoNodeType.RETRY:
        return max(1, len(node.get("children") or ()))
    started = node.get("phase") not in (None, ArgoPhase.PENDING, ArgoPhase.OMITTED,
                                        ArgoPhase.SKIPPED)
    return 1 if started else None


def _step_status(result: Any, kind: str, node: Mapping[str, Any] | None) -> Obj:
    out: Obj = {"name": result.name, "kind": kind, "phase": str(result.phase)}
    if result.reason is not None:
        out["reason"] = str(result.reason)
    out["message"] = result.message
    if node is not None:
        if node.get("startedAt"):
            out["startedAt"] = node["startedAt"]
        if node.get("finishedAt") and result.is_done:
            out["finishedAt"] = node["finishedAt"]
        attempt = _attempt(node)
        if attempt is not None:
            out["attempt"] = attempt
    return out


def pending_statuses(graph: Graph) -> list[Obj]:
    """Every step listed before the Workflow exists (all Pending)."""
    result = evaluate(graph)
    return [_step_status(r, n.kind, None) for r, n in zip(result.steps, graph.nodes, strict=True)]


def mirror_workflow(workflow: Mapping[str, Any], previous: Mapping[str, Any],
                    now: str) -> Mirror:
    """The run's status for the Workflow as it is now. `previous` is the run's
    current status (for `finishedAt` stability and offloaded node status)."""
    workflow = workflow_view(workflow)
    graph = graph_from_workflow(workflow)
    status = workflow.get("status") or {}
    nodes = decode_nodes(status)
    ended = status.get("phase") in ARGO_DONE
    if nodes is None:
        return _offloaded(graph, status, previous)
    found = step_nodes(nodes, entry_node_id(workflow, nodes), graph.names)
    known = {name: observe(node) for name, node in found.items()}
    result = evaluate(graph, known, workflow_ended=ended)
    statuses = [_step_status(r, n.kind, found.get(r.name))
                for r, n in zip(result.steps, graph.nodes, strict=True)]
    _apply_argo_skips(statuses, found)
    return _finish(result, statuses, status.get("startedAt"),
                   status.get("finishedAt"), previous, now)


def mirror_deleted(previous: Mapping[str, Any], now: str) -> Mirror:
    """The Workflow was deleted by someone else: the run ends (§3, Workflow ended
    early) and is never re-submitted. The dependency edges went with the Workflow,
    but the last mirror already holds what they decided: a step still Pending had
    no blocking dependency then (§3 would have skipped it), and a step skipped for
    a failed dependency is tied to a step that blocks. So a graph rebuilt from the
    previous step statuses gives §3 the same facts, and `evaluate` decides."""
    old = [s for s in previous.get("stepStatuses") or () if s.get("name")]
    blockers = [str(s["name"]) for s in old if s.get("phase") == StepPhase.FAILED
                and s.get("reason") != StepReason.FAILURE_IGNORED]
    nodes = []
    for s in old:
        skipped = s.get("phase") == StepPhase.SKIPPED and blockers
        nodes.append(Node(s["name"], s.get("kind", ""), (blockers[0],) if skipped else (),
                          s.get("reason") == StepReason.FAILURE_IGNORED))
    graph = Graph(tuple(nodes))
    known = {s["name"]: _observation_of(s) for s in old}
    result = evaluate(graph, known, workflow_ended=True)
    statuses: list[Obj] = []
    for r, s in zip(result.steps, old, strict=True):
        if s.get("phase") in (StepPhase.SKIPPED, StepPhase.SUCCEEDED, StepPhase.FAILED):
            statuses.append(dict(s))  # what was mirrored is a fact
            continue
        kept = {k: v for k, v in s.items() if k not in ("reason", "message", "phase")}
        statuses.append({**kept, "phase": str(r.phase), "reason": str(r.reason),
                         "message": r.message})
    mirror = _finish(result, statuses, previous.get("startedAt"), None, previous, now)
    message = "the Workflow was deleted before the run finished; it is not re-submitted"
    conditions = tuple(
        Condition(c.type, ConditionStatus.FALSE, SubmitReason.WORKFLOW_DELETED, message)
        if c.type == ConditionType.SUBMITTED else c for c in mirror.conditions)
    return Mirror(mirror.phase, mirror.step_statuses, conditions, mirror.progress,
                  mirror.started_at, mirror.finished_at)


_FAILED_AS = {StepReason.STEP_ERROR: Observed.ERRORED,
              StepReason.STEP_TIMED_OUT: Observed.TIMED_OUT,
              StepReason.WORKFLOW_ENDED: Observed.INTERRUPTED}


def _observation_of(step: Mapping[str, Any]) -> Observation:
    phase, reason = step.get("phase"), step.get("reason")
    if phase == StepPhase.SUCCEEDED:
        return Observation(Observed.SUCCEEDED)
    if phase == StepPhase.RUNNING:
        return Observation(Observed.RUNNING)
    if phase == StepPhase.FAILED:
        for known, observed in _FAILED_AS.items():
            if reason == known:
                return Observation(observed)
        return Observation(Observed.FAILED)
    return Observation()


def _apply_argo_skips(statuses: list[Obj], found: Mapping[str, Obj]) -> None:
    """Argo `Skipped` (a `when` that was false) is kept with Argo's message as reason
    text (§5); the compiler emits no `when`, so only hand-made Workflows get here."""
    for status in statuses:
        node = found.get(status["name"])
        if node is not None and node.get("phase") == ArgoPhase.SKIPPED:
            status["phase"] = str(StepPhase.SKIPPED)
            status["reason"] = node.get("message") or "Skipped"
            status["message"] = node.get("message") or "skipped by Argo"


def _finish(result: RunResult, statuses: list[Obj], started: str | None,
            finished: str | None, previous: Mapping[str, Any], now: str) -> Mirror:
    done = str(result.phase) in RUN_DONE
    finished_at = (previous.get("finishedAt") or finished or now) if done else None
    submitted = Condition(ConditionType.SUBMITTED, ConditionStatus.TRUE,
                          SubmitReason.WORKFLOW_CREATED, "the Workflow exists")
    return Mirror(str(result.phase), statuses, (submitted, *result.conditions),
                  result.progress, previous.get("startedAt") or started, finished_at)


def _offloaded(graph: Graph, status: Mapping[str, Any], previous: Mapping[str, Any]) -> Mirror:
    statuses = list(previous.get("stepStatuses") or ()) or pending_statuses(graph)
    version = status.get("offloadNodeStatusVersion")
    offloaded = Condition(
        ConditionType.NODE_STATUS_AVAILABLE, ConditionStatus.FALSE,
        NodeStatusReason.NODE_STATUS_OFFLOADED,
        f"Argo offloaded the node status to its database (offloadNodeStatusVersion "
        f"{version}); step statuses are left as last seen rather than guessed")
    unknown = Condition(ConditionType.SUCCEEDED, ConditionStatus.UNKNOWN,
                        NodeStatusReason.NODE_STATUS_OFFLOADED,
                        "the outcome cannot be read from the Workflow")
    submitted = Condition(ConditionType.SUBMITTED, ConditionStatus.TRUE,
                          SubmitReason.WORKFLOW_CREATED, "the Workflow exists")
    ended = (StepPhase.SUCCEEDED, StepPhase.FAILED, StepPhase.SKIPPED)
    done = sum(s.get("phase") in ended for s in statuses)
    return Mirror(str(previous.get("phase") or RunPhase.RUNNING), statuses,
                  (submitted, unknown, offloaded), f"{done}/{len(statuses)}",
                  status.get("startedAt") or previous.get("startedAt"), None)
