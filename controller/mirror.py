"""Argo Workflow status -> the run's status (contract §5), as pure functions.

Why pure: the mapping from Argo's node model to step phases is the part most
likely to be subtly wrong, so it is a function of data alone (the Workflow as the
apiserver returns it, the run's previous status, the time) that unit tests drive
with hand-written node maps, and the e2e tests with real ones.

How: each step's node is found by `displayName` among the nodes whose
`boundaryID` is the entry DAG node (never by recomputing Argo's node IDs); its
phase becomes an `Observation`, and `orchapi.semantics.evaluate` (the one
implementation of §3) decides every step's phase and reason and the run's phase.
The step graph is read from the Workflow itself (its entry DAG's tasks, less the
compiler's final outcome task), because a submitted run does not change when its
Orchestration is edited later. How a failed node is classified (its own failure, a
timeout, or Argo ending the Workflow early) is read from structure in
`controller.observe`, never from message text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.argo_defaults import judgement_of
from compiler.compiled import decode_nodes, graph_from_workflow, reused_steps, step_tasks
from compiler.compressed import UnreadableNodesError
from compiler.gates import GATE_PARAM, is_gate_task
from compiler.kinds.wait import WAIT_PARAM
from compiler.resume import reused_note
from controller.observe import Ending, last_attempt, observe
from controller.resuming import reused_records_of
from orchapi.api import RESUMED_FROM_ANNOTATION, Obj
from orchapi.argo import ARGO_DONE, UNBOUNDED_TIMEOUT, ArgoNodeType, ArgoPhase
from orchapi.graph import Graph, Node
from orchapi.semantics import (
    DecidedCondition,
    Observation,
    RunResult,
    Seen,
    StepResult,
    argo_phase_agreement,
    evaluate,
    outcome_from_argo,
)
from orchapi.vocabulary import (
    RUN_DONE,
    ArgoDefaultsReason,
    ConditionStatus,
    ConditionType,
    NodeStatusReason,
    RunPhase,
    StepPhase,
    StepReason,
    SubmitReason,
)


@dataclass(frozen=True)
class Mirror:
    """What the run's status should say about its Workflow."""

    phase: str
    step_statuses: list[Obj]
    conditions: tuple[DecidedCondition, ...]
    progress: str
    started_at: str | None = None
    finished_at: str | None = None


# What the mirror reads of a Workflow, and so all the controller keeps of one in its
# cache (`workflow_view`). `mirror_workflow` reads only the view, so a field read
# here but not listed is missing in the unit tests too: change both together.
_META_KEYS = ("name", "namespace", "uid", "resourceVersion", "generation", "labels",
              "annotations", "ownerReferences", "deletionTimestamp", "finalizers")
_SPEC_KEYS = ("entrypoint", "shutdown", "activeDeadlineSeconds")
_TASK_KEYS = ("name", "dependencies", "depends", "continueOn", "template")
_STATUS_KEYS = ("phase", "startedAt", "finishedAt", "message", "nodes", "compressedNodes",
                "offloadNodeStatusVersion")
_NODE_KEYS = ("id", "name", "displayName", "type", "templateName", "phase", "message",
              "boundaryID", "children", "startedAt", "finishedAt", "nodeFlag",
              "failedPodRestarts")


def node_view(node: Mapping[str, Any]) -> Obj:
    """A node's own fields; a suspend node keeps the `wait` input an ApprovalGate or
    SignalWait carries, or the `gate` input of a split run's gate (what the
    controller decides them by), and no other input."""
    out = _pick(node, _NODE_KEYS)
    if node.get("type") == ArgoNodeType.SUSPEND:
        params = [p for p in (node.get("inputs") or {}).get("parameters") or ()
                  if isinstance(p, Mapping) and p.get("name") in _KEPT_INPUTS]
        if params:
            out["inputs"] = {"parameters": params}
    return out


_KEPT_INPUTS = frozenset({WAIT_PARAM, GATE_PARAM})


def _pick(obj: Mapping[str, Any] | None, keys: Sequence[str]) -> Obj:
    return {k: obj[k] for k in keys if obj and k in obj}


def _task_view(task: Mapping[str, Any]) -> Obj:
    """A DAG task's own fields; a gate's task keeps its argument (its sources)."""
    out = _pick(task, _TASK_KEYS)
    if is_gate_task(task) and "arguments" in task:
        out["arguments"] = task["arguments"]
    return out


def workflow_view(workflow: Mapping[str, Any]) -> Obj:
    """The Workflow cut to what this module reads: metadata, the DAG templates'
    tasks (the entry's; a split run's part DAGs too, contract §8), the `timeout` of
    the steps' templates, `spec.shutdown` and the deadline, and the status with each
    node's own fields (no pod specs, outputs or managedFields). Idempotent."""
    spec = workflow.get("spec") or {}
    entry = spec.get("entrypoint")
    view_spec = _pick(spec, _SPEC_KEYS)
    templates = spec.get("templates") or ()
    dags = {t.get("name"): t for t in templates if "dag" in t}
    if entry in dags:
        # The entry DAG first, then the part DAGs its tasks run, in template order.
        parts = {task.get("template") for task in dags[entry]["dag"].get("tasks") or ()}
        kept = [t for t in templates if "dag" in t and (t.get("name") == entry
                                                       or t.get("name") in parts)]
        views = [{"name": t.get("name"), "dag": {"tasks": [
            _task_view(task) for task in t["dag"].get("tasks") or ()]}} for t in kept]
        used = {task.get("template") for v in views for task in v["dag"]["tasks"]}
        # Of the steps' own templates, only a `timeout` is read (`timed_steps`).
        view_spec["templates"] = [*views, *(
            _pick(u, ("name", "timeout")) for u in templates
            if "dag" not in u and u.get("name") in used and _bounded(u.get("timeout")))]
    status = _pick(workflow.get("status"), _STATUS_KEYS)
    if isinstance(status.get("nodes"), Mapping):
        status["nodes"] = {k: node_view(n) for k, n in status["nodes"].items()}
    out: Obj = {"metadata": _pick(workflow.get("metadata"), _META_KEYS), "spec": view_spec,
                "status": status}
    for k in ("apiVersion", "kind"):
        if k in workflow:
            out[k] = workflow[k]
    return out


def timed_steps(workflow: Mapping[str, Any]) -> frozenset[str]:
    """Steps whose template has a `timeout` (only they can time out on their own)."""
    templates = {t.get("name"): t for t in (workflow.get("spec") or {}).get("templates") or ()}
    return frozenset(t["name"] for t in step_tasks(workflow)
                     if _bounded((templates.get(t.get("template")) or {}).get("timeout")))


def _bounded(timeout: Any) -> bool:
    """A template timeout a step can run into (not the compiler's pinned "none")."""
    return bool(timeout) and timeout != UNBOUNDED_TIMEOUT


def entry_node_id(workflow: Mapping[str, Any], nodes: Mapping[str, Obj]) -> str | None:
    """The entry DAG node: Argo gives the Workflow's root node the Workflow's name;
    failing that, the boundary-less DAG node of the entry template."""
    name = (workflow.get("metadata") or {}).get("name")
    if name in nodes:
        root = nodes[str(name)]
        if root.get("type") == ArgoNodeType.RETRY:  # a retryStrategy on the entry DAG
            return str(last_attempt(root, nodes).get("id") or name)
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


def _attempt(node: Mapping[str, Any]) -> int | None:
    if node.get("type") == ArgoNodeType.RETRY:
        return max(1, len(node.get("children") or ()))
    started = node.get("phase") not in (None, ArgoPhase.PENDING, ArgoPhase.OMITTED,
                                        ArgoPhase.SKIPPED)
    return 1 if started else None


def pod_restarts(node: Mapping[str, Any], nodes: Mapping[str, Obj]) -> int:
    """How often Argo recreated the step's pod because it failed before its main
    container started (v4 `NodeStatus.failedPodRestarts`, operator.go l.1443,
    v4.0.5, with `failedPodRestart` enabled): a Retry node's attempts summed.
    Neither a failure nor an attempt (contract §5): the node went back to Pending."""
    own = node.get("failedPodRestarts")
    total = own if isinstance(own, int) and not isinstance(own, bool) else 0
    if node.get("type") == ArgoNodeType.RETRY:
        total += sum(pod_restarts(nodes[c], nodes) for c in node.get("children") or ()
                     if c in nodes)
    return total


def _step_status(result: StepResult, kind: str, node: Mapping[str, Any] | None,
                 nodes: Mapping[str, Obj] | None = None) -> Obj:
    out: Obj = {"name": result.name, "kind": kind, "phase": str(result.phase)}
    if result.reason is StepReason.SKIPPED_BY_ARGO:
        out["reason"] = result.message  # Argo's message as the reason text (§5)
    elif result.reason is not None:
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
        restarts = pod_restarts(node, nodes or {})
        if restarts:
            out["failedPodRestarts"] = restarts
    return out


def _reused_status(result: StepResult, kind: str, record: Mapping[str, Any] | None) -> Obj:
    """A reused step: the old run's record (start, finish, attempt, what it created),
    which the Workflow carries (`controller.resuming`), as `Succeeded`/`Reused`."""
    kept = {k: v for k, v in (record or {}).items() if k not in ("phase", "reason", "message")}
    return {"name": result.name, "kind": kind, **kept, "phase": str(result.phase),
            "reason": str(result.reason), "message": result.message}


def cancelled_statuses(graph: Graph) -> list[Obj]:
    """Every step of a run cancelled before its Workflow existed (`Skipped`/`Cancelled`)."""
    result = evaluate(graph, cancelled=True)
    return [_step_status(r, n.kind, None) for r, n in zip(result.steps, graph.nodes, strict=True)]


def refused_statuses(graph: Graph, reason: str) -> list[Obj]:
    """Every step of a run refused before its Workflow was submitted: it has ended
    (Failed), so no step is left Pending; each is `Skipped`/`NotSubmitted`, naming
    the refusal (contract §5: once the run has ended, its steps are resolved)."""
    message = f"the run was refused before its Workflow was submitted ({reason}); nothing ran"
    return [{"name": n.name, "kind": n.kind, "phase": str(StepPhase.SKIPPED),
             "reason": str(StepReason.NOT_SUBMITTED), "message": message}
            for n in graph.nodes]


def pending_statuses(graph: Graph) -> list[Obj]:
    """Every step listed before the Workflow exists (all Pending)."""
    result = evaluate(graph)
    return [_step_status(r, n.kind, None) for r, n in zip(result.steps, graph.nodes, strict=True)]


def mirror_workflow(workflow: Mapping[str, Any], previous: Mapping[str, Any],
                    now: str, cancelled: bool = False) -> Mirror:
    """The run's status for the Workflow as it is now. `previous` is the run's
    current status (for `finishedAt` stability, offloaded node status, and the
    records of reused steps); `cancelled`: the run's `spec.cancel` (contract §3)."""
    workflow = workflow_view(workflow)
    graph = graph_from_workflow(workflow)
    status = workflow.get("status") or {}
    try:
        nodes = decode_nodes(status)
    except UnreadableNodesError as e:
        return _unavailable(graph, status, previous, now,
                            NodeStatusReason.NODE_STATUS_UNREADABLE,
                            f"the Workflow's node status cannot be read: {e}")
    ended = status.get("phase") in ARGO_DONE
    if nodes is None:
        version = status.get("offloadNodeStatusVersion")
        return _unavailable(graph, status, previous, now,
                            NodeStatusReason.NODE_STATUS_OFFLOADED,
                            f"Argo offloaded the node status to its database "
                            f"(offloadNodeStatusVersion {version})")
    found = step_nodes(nodes, entry_node_id(workflow, nodes), graph.names)
    ending, timed = Ending.of(workflow, now), timed_steps(workflow)
    known = {name: observe(node, nodes, ending, name in timed)
             for name, node in found.items()}
    reused = reused_steps(workflow)
    if reused:  # a resumed run: its no-op tasks stand for the old run's results
        note = reused_note(str(((workflow.get("metadata") or {}).get("annotations") or {})
                               .get(RESUMED_FROM_ANNOTATION) or "?"))
        known.update({name: Observation(Seen.REUSED, note) for name in reused})
    result = evaluate(graph, known, workflow_ended=ended, cancelled=cancelled,
                      timed_out=ended and ending.timed_out)
    records = {s.get("name"): s for s in previous.get("stepStatuses") or ()}
    records.update(reused_records_of(workflow))  # the old run's, carried by the Workflow
    statuses = [_reused_status(r, n.kind, records.get(r.name)) if r.name in reused
                else _step_status(r, n.kind, found.get(r.name), nodes)
                for r, n in zip(result.steps, graph.nodes, strict=True)]
    mirror = _finish(result, statuses, status.get("startedAt"),
                     status.get("finishedAt"), previous, now)
    defaults = defaults_condition(workflow)
    if not ended:
        return _with_conditions(mirror, mirror.conditions, *defaults)
    return _with_conditions(mirror, _explained(mirror.conditions, ending, status),
                            argo_phase_agreement(RunPhase(mirror.phase), status["phase"]),
                            *defaults)


def defaults_condition(workflow: Mapping[str, Any]) -> tuple[DecidedCondition, ...]:
    """`ArgoDefaultsPinned` when the controller found Argo defaults at submission:
    True when the Workflow overrides each one, False naming those that apply."""
    found = judgement_of((workflow.get("metadata") or {}).get("annotations"))
    if found is None:
        return ()
    if found.apply:
        return (DecidedCondition(ConditionType.ARGO_DEFAULTS_PINNED, ConditionStatus.FALSE,
                                 ArgoDefaultsReason.DEFAULTS_APPLY,
                                 "the cluster's Argo workflowDefaults change this run: "
                                 + "; ".join(found.apply)
                                 + ("; pinned: " + "; ".join(found.pinned)
                                    if found.pinned else "")),)
    return (DecidedCondition(ConditionType.ARGO_DEFAULTS_PINNED, ConditionStatus.TRUE,
                             ArgoDefaultsReason.DEFAULTS_PINNED,
                             "the cluster's Argo workflowDefaults change nothing here: "
                             + "; ".join(found.pinned)),)


def _explained(conditions: Sequence[DecidedCondition], ending: Ending,
               status: Mapping[str, Any]) -> list[DecidedCondition]:
    """The `Succeeded` condition's message says why an early end happened (from
    structure) and carries Argo's own `status.message` (contract §5)."""
    notes = [n for n in (ending.describe() if ending.early else None,
                         f"Argo: {status['message']}" if status.get("message") else None)
             if n]
    if not notes:
        return list(conditions)
    return [DecidedCondition(c.type, c.status, c.reason, "; ".join([c.message, *notes]))
            if c.type == ConditionType.SUCCEEDED else c for c in conditions]


def _with_conditions(mirror: Mirror, conditions: Sequence[DecidedCondition],
                     *extra: DecidedCondition) -> Mirror:
    return Mirror(mirror.phase, mirror.step_statuses, (*conditions, *extra), mirror.progress,
                  mirror.started_at, mirror.finished_at)


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
    return _with_conditions(mirror, [
        DecidedCondition(c.type, ConditionStatus.FALSE, SubmitReason.WORKFLOW_DELETED, message)
        if c.type == ConditionType.SUBMITTED else c for c in mirror.conditions])


_FAILED_AS = {StepReason.STEP_ERROR: Seen.ERRORED,
              StepReason.STEP_TIMED_OUT: Seen.TIMED_OUT,
              StepReason.WORKFLOW_ENDED: Seen.INTERRUPTED}


def _observation_of(step: Mapping[str, Any]) -> Observation:
    phase, reason = step.get("phase"), step.get("reason")
    if phase == StepPhase.SUCCEEDED:
        return Observation(Seen.SUCCEEDED)
    if phase == StepPhase.RUNNING:
        return Observation(Seen.RUNNING)
    if phase == StepPhase.FAILED:
        for known, observed in _FAILED_AS.items():
            if reason == known:
                return Observation(observed)
        return Observation(Seen.FAILED)
    return Observation()


def _finish(result: RunResult, statuses: list[Obj], started: str | None,
            finished: str | None, previous: Mapping[str, Any], now: str) -> Mirror:
    done = str(result.phase) in RUN_DONE
    finished_at = (previous.get("finishedAt") or finished or now) if done else None
    if finished_at is not None:
        statuses = _stopped_finished(statuses, previous, finished_at)
    submitted = DecidedCondition(ConditionType.SUBMITTED, ConditionStatus.TRUE,
                                 SubmitReason.WORKFLOW_CREATED, "the Workflow exists")
    return Mirror(str(result.phase), statuses, (submitted, *result.conditions),
                  result.progress, previous.get("startedAt") or started, finished_at)


def _stopped_finished(statuses: list[Obj], previous: Mapping[str, Any], run_end: str
                      ) -> list[Obj]:
    """A step that had started and was stopped (a cancel, the Workflow ended or
    deleted) has ended too (contract §3): its `finishedAt` is Argo's node's, else
    the one already recorded, else the time the run ended. Without it `orch get`
    counted such a step's duration up to now. A reused step keeps the old run's
    record as it is."""
    recorded = {s.get("name"): s.get("finishedAt") for s in previous.get("stepStatuses") or ()}
    out = []
    for s in statuses:
        if s.get("startedAt") and not s.get("finishedAt") and s.get("reason") != \
                StepReason.REUSED and s.get("phase") in _ENDED_STEP:
            s = {**s, "finishedAt": recorded.get(s["name"]) or run_end}
        out.append(s)
    return out


_ENDED_STEP = frozenset({StepPhase.SUCCEEDED, StepPhase.FAILED, StepPhase.SKIPPED})


def _unavailable(graph: Graph, status: Mapping[str, Any], previous: Mapping[str, Any],
                 now: str, reason: str, why: str) -> Mirror:
    """The node status cannot be read here: Argo moved it to its database, which
    the controller does not read, or it is corrupt or larger than the controller
    decodes (issue 22). The step statuses stay as last seen (never guessed), a
    condition says why, and once the Workflow has ended the run ends with Argo's
    own phase, the one thing known (the compiler's outcome task makes it the
    run's, §3)."""
    statuses = list(previous.get("stepStatuses") or ()) or pending_statuses(graph)
    offloaded = DecidedCondition(ConditionType.NODE_STATUS_AVAILABLE, ConditionStatus.FALSE,
                                 reason, f"{why}; step statuses are as last seen, not guessed")
    submitted = DecidedCondition(ConditionType.SUBMITTED, ConditionStatus.TRUE,
                                 SubmitReason.WORKFLOW_CREATED, "the Workflow exists")
    ended = (StepPhase.SUCCEEDED, StepPhase.FAILED, StepPhase.SKIPPED)
    done = sum(s.get("phase") in ended for s in statuses)
    started = status.get("startedAt") or previous.get("startedAt")
    progress = f"{done}/{len(statuses)}"
    if status.get("phase") not in ARGO_DONE:
        unknown = DecidedCondition(ConditionType.SUCCEEDED, ConditionStatus.UNKNOWN, reason,
                                   "the outcome cannot be read from the Workflow until it ends")
        return Mirror(str(previous.get("phase") or RunPhase.RUNNING), statuses,
                      (submitted, unknown, offloaded), progress, started, None)
    phase, succeeded = outcome_from_argo(
        status["phase"], ("its node status is offloaded" if reason ==
                          NodeStatusReason.NODE_STATUS_OFFLOADED else
                          "its node status cannot be read")
        + ", so which steps failed is not known"
        + (f"; Argo: {status['message']}" if status.get("message") else ""), reason)
    finished = previous.get("finishedAt") or status.get("finishedAt") or now
    return Mirror(str(phase), statuses, (submitted, succeeded, offloaded), progress, started,
                  finished)
