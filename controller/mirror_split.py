"""A split run's Workflows (contract §8) -> the run's status, the gates to release
and the Workflows to stop, as one pure function.

Why apart from `controller.mirror`: one Workflow is mirrored as before, byte for
byte; a split run is several, and three decisions are its own:

- **One evaluation.** The run's graph is read back from all its Workflows
  (`compiler.compiled.graph_from_workflows`); each step's node is found by
  `displayName` inside its own part's DAG node (the Workflow's entry node when it
  holds one part, else the node of the entry task that runs the part), never by
  recomputing node IDs; every step's observation goes into one
  `orchapi.semantics.evaluate`, so a step in one Workflow is skipped for a failure
  in another exactly as inside one DAG.
- **Gates.** Every gate node Argo holds waiting (an active suspend node of the
  `orch-gate` template) is decided by `compiler.gates.decide_gate` over its
  sources' evaluated results: passed once each lets its dependents run, failed
  once one blocks them (docs/scale.md, "Why it is exact").
- **One end.** A Workflow that ends early (stopped, past its deadline, deleted,
  or ended with steps it never ran: an Argo error) leaves gates in the others that
  would wait forever; so the others are stopped (`stop`), and the run ends as one,
  its steps resolved by §3 as for one Workflow ended early. The run ends once every
  Workflow has; its phase is computed from the steps, and `ArgoPhaseAgrees`
  compares it with "every Workflow Succeeded".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.compiled import decode_nodes, graph_from_workflows, steps_of
from compiler.compressed import UnreadableNodesError
from compiler.gates import GATE_TEMPLATE, decide_gate, sources_of_node
from compiler.resume import is_reused_task, reused_note
from controller.mirror import (
    Mirror,
    _explained,
    _finish,
    _observation_of,
    _reused_status,
    _step_status,
    _with_conditions,
    defaults_condition,
    entry_node_id,
    workflow_view,
)
from controller.observe import Ending, observe
from controller.resuming import reused_records_of
from controller.suspend import is_active_suspend
from controller.waits import Release
from orchapi.api import RESUMED_FROM_ANNOTATION, Obj
from orchapi.argo import ARGO_DONE, UNBOUNDED_TIMEOUT, ArgoPhase
from orchapi.graph import Graph, Node
from orchapi.semantics import (
    DecidedCondition,
    Observation,
    Seen,
    argo_phase_agreement,
    evaluate,
)
from orchapi.vocabulary import (
    RUN_DONE,
    ConditionStatus,
    ConditionType,
    NodeStatusReason,
    RunPhase,
    RunReason,
)


@dataclass(frozen=True)
class Part:
    """One Workflow of the run as known: `workflow` is the Workflow (its last state
    when `gone`; None when it is gone and that state was not seen)."""

    name: str
    workflow: Obj | None
    gone: bool = False


@dataclass(frozen=True)
class SplitMirror:
    mirror: Mirror
    releases: tuple[tuple[str, tuple[Release, ...]], ...] = ()  # Workflow name -> gates
    stop: tuple[str, ...] = ()  # Workflows to stop: another one ended early


@dataclass
class _Read:
    """What one Workflow says."""

    part: Part
    view: Obj | None
    nodes: dict[str, Obj] | None  # None: not readable (gone unseen, offloaded, corrupt)
    steps: dict[str, Obj]  # step name -> its node
    names: list[str]  # its steps, in reading order
    ending: Ending
    ended: bool  # Argo ended it, or it is gone
    why_unreadable: str | None = None


def mirror_split(parts: Sequence[Part], previous: Mapping[str, Any], now: str,
                 cancelled: bool = False) -> SplitMirror:
    """The run's status for its Workflows as they are now (`previous`: the run's
    current status, for stable `finishedAt`s and what a lost Workflow's steps were)."""
    reads = [_read(p, now) for p in parts]
    graph = _graph(reads, previous)
    records = {s.get("name"): s for s in previous.get("stepStatuses") or ()}
    known: dict[str, Observation] = {}
    reused: set[str] = set()
    for r in reads:
        if r.nodes is None:  # what was mirrored before stands for what cannot be read
            known.update({n: _observation_of(records[n]) for n in r.names if n in records})
            continue
        timed = _timed(r.view or {})
        known.update({name: observe(node, r.nodes, r.ending, name in timed)
                      for name, node in r.steps.items()})
        own = _reused(r.view or {})
        if own:
            annotations = ((r.view or {}).get("metadata") or {}).get("annotations") or {}
            note = reused_note(str(annotations.get(RESUMED_FROM_ANNOTATION) or "?"))
            known.update({name: Observation(Seen.REUSED, note) for name in own})
            reused |= own
            records.update(reused_records_of(r.view or {}))
    all_ended = all(r.ended for r in reads)
    timed_out = all_ended and any(r.ending.timed_out for r in reads)
    result = evaluate(graph, known, workflow_ended=all_ended, cancelled=cancelled,
                      timed_out=timed_out)
    by_name = {s.name: s for s in result.steps}
    nodes_of = {name: r for r in reads for name in r.steps}
    statuses = [_reused_status(s, n.kind, records.get(s.name)) if s.name in reused
                else _step_status(s, n.kind, nodes_of[s.name].steps[s.name],
                                  nodes_of[s.name].nodes) if s.name in nodes_of
                else _kept(s, n.kind, records.get(s.name))
                for s, n in zip(result.steps, graph.nodes, strict=True)]
    started = min((t for r in reads if (t := _status(r).get("startedAt"))), default=None)
    finished = max((t for r in reads if (t := _status(r).get("finishedAt"))), default=None)
    mirror = _finish(result, statuses, started, finished if all_ended else None, previous, now)
    first = next((r.view for r in reads if r.view is not None), None)
    extra = [*defaults_condition(first or {}), *_unreadable(reads)]
    if all_ended:
        early = next((r for r in reads if r.ending.early or r.part.gone), None) \
            or next((r for r in reads if _status(r).get("message")), reads[0])
        argo = next((str(_status(r).get("phase") or ArgoPhase.FAILED) for r in reads
                     if _status(r).get("phase") != ArgoPhase.SUCCEEDED), ArgoPhase.SUCCEEDED)
        mirror = _with_conditions(mirror, _explained(mirror.conditions, early.ending,
                                                     _status(early)),
                                  argo_phase_agreement(RunPhase(mirror.phase), argo), *extra)
        return SplitMirror(mirror)
    mirror = _with_conditions(mirror, mirror.conditions, *extra)
    if mirror.phase in RUN_DONE and not cancelled:
        mirror = _still_ending(mirror, [r.part.name for r in reads if not r.ended])
    if any(_ended_early(r, by_name) for r in reads):
        return SplitMirror(mirror, stop=tuple(
            r.part.name for r in reads if not r.ended and not r.ending.shutdown))
    if cancelled:
        return SplitMirror(mirror)  # stopping the Workflows fails their gates
    releases = []
    for r in reads:
        gates = _gates(r, by_name)
        if gates:
            ready = min(_ready_since(g, r, nodes_of) for g in gates)
            releases.append((ready, r.part.name, gates))
    # The Workflow whose gate has been ready longest first: the executor writes a
    # few Workflows a round, and none may wait behind others that always have more.
    releases.sort(key=lambda x: x[0])
    return SplitMirror(mirror, tuple((name, gates) for _, name, gates in releases))


def _still_ending(mirror: Mirror, ending: Sequence[str]) -> Mirror:
    """Every step has ended, and Argo has not yet ended every Workflow (a gate it is
    being released in, a part's outcome task): the run ends once every Workflow
    has (above), so that its end says what Argo said of each (`ArgoPhaseAgrees`);
    a run that ended first would not be woken by them again."""
    return Mirror(str(RunPhase.RUNNING), mirror.step_statuses, (
        *(c for c in mirror.conditions if c.type != ConditionType.SUCCEEDED),
        DecidedCondition(ConditionType.SUCCEEDED, ConditionStatus.UNKNOWN, RunReason.RUNNING,
                         f"every step has ended; Argo is ending Workflow(s) "
                         f"{', '.join(ending)}")), mirror.progress, mirror.started_at, None)


def _ready_since(gate: Release, r: _Read, nodes_of: Mapping[str, _Read]) -> str:
    """When a gate's last source finished (RFC 3339; "" when not known)."""
    node = (r.nodes or {}).get(gate.node_id) or {}
    ends = [str(((held.steps.get(s) or {}).get("finishedAt")) or "")
            for s in sources_of_node(node) or () if (held := nodes_of.get(s)) is not None]
    return max(ends, default="")


def _status(r: _Read) -> Mapping[str, Any]:
    return (r.view or {}).get("status") or {}


def _read(part: Part, now: str) -> _Read:
    if part.workflow is None:
        return _Read(part, None, None, {}, [], Ending(), True)
    view = workflow_view(part.workflow)
    names = [t["name"] for t in steps_of(view)]
    status = view.get("status") or {}
    ended = part.gone or status.get("phase") in ARGO_DONE
    ending = Ending.of(view, now)
    try:
        nodes = decode_nodes(status)
    except UnreadableNodesError as e:
        return _Read(part, view, None, {}, names, ending, ended,
                     f"the node status of Workflow {part.name} cannot be read: {e}")
    if nodes is None:
        return _Read(part, view, None, {}, names, ending, ended,
                     f"Argo offloaded the node status of Workflow {part.name} to its "
                     f"database (offloadNodeStatusVersion "
                     f"{status.get('offloadNodeStatusVersion')})")
    return _Read(part, view, nodes, step_nodes_of(view, nodes, names), names, ending, ended)


def step_nodes_of(workflow: Mapping[str, Any], nodes: Mapping[str, Obj],
                  names: Sequence[str]) -> dict[str, Obj]:
    """Each step's node in one Workflow of a split run: `displayName` == the step's
    name inside its part's DAG node: the entry node when the Workflow holds one
    part, else a node the entry DAG's task for the part made (its DAG node, or the
    Retry node and attempts a default retryStrategy wraps it in)."""
    entry = entry_node_id(workflow, nodes)
    if entry is None:
        return {}
    parts = _part_templates(workflow)
    boundaries = {entry} if not parts else {
        node_id for node_id, n in nodes.items()
        if n.get("boundaryID") == entry and n.get("templateName") in parts}
    wanted = set(names)
    return {str(n["displayName"]): n for n in nodes.values()
            if n.get("boundaryID") in boundaries and n.get("displayName") in wanted}


def _part_templates(workflow: Mapping[str, Any]) -> frozenset[str]:
    """The part DAG templates the entry DAG runs (none: the entry is the only part)."""
    spec = workflow.get("spec") or {}
    templates = {t.get("name"): t for t in spec.get("templates") or ()}
    entry = templates.get(spec.get("entrypoint")) or {}
    return frozenset(str(task.get("template")) for task in (entry.get("dag") or {}).get("tasks")
                     or () if "dag" in (templates.get(task.get("template")) or {}))


def _timed(workflow: Mapping[str, Any]) -> frozenset[str]:
    """Steps whose template has a `timeout` (only they can time out on their own)."""
    templates = {t.get("name"): t for t in (workflow.get("spec") or {}).get("templates") or ()}
    out = set()
    for task in steps_of(workflow):
        timeout = (templates.get(task.get("template")) or {}).get("timeout")
        if timeout and timeout != UNBOUNDED_TIMEOUT:
            out.add(str(task["name"]))
    return frozenset(out)


def _reused(workflow: Mapping[str, Any]) -> set[str]:
    return {str(t["name"]) for t in steps_of(workflow) if is_reused_task(t)}


def _graph(reads: Sequence[_Read], previous: Mapping[str, Any]) -> Graph:
    """The run's graph from the Workflows it can be read from; a step of a Workflow
    lost unseen is known only by its last record (no dependencies: what it was
    decided from is gone with its Workflow), and a dependency known by name only is
    a node of its own, so the graph stays whole."""
    graph = graph_from_workflows([r.view for r in reads if r.view is not None])
    have = set(graph.names)
    extra: list[Node] = []
    for s in previous.get("stepStatuses") or ():
        name = s.get("name")
        if isinstance(name, str) and name not in have:
            extra.append(Node(name, str(s.get("kind") or ""), ()))
            have.add(name)
    for node in graph.nodes:
        for d in node.dependencies:
            if d not in have:
                extra.append(Node(d, "", ()))
                have.add(d)
    return Graph((*graph.nodes, *extra)) if extra else graph


def _kept(result: Any, kind: str, record: Mapping[str, Any] | None) -> Obj:
    """A step whose node cannot be read: its result, with the times recorded."""
    out = _step_status(result, kind, None)
    for k in ("startedAt", "finishedAt", "attempt"):
        if record and k in record:
            out[k] = record[k]
    return out


def _ended_early(r: _Read, results: Mapping[str, Any]) -> bool:
    """The Workflow ended (or is gone, or is being shut down) while steps of its own
    had not: gates elsewhere may wait on them forever."""
    if r.part.gone or r.ending.shutdown or (r.ended and r.ending.early):
        return True
    return r.ended and any(not results[n].is_done for n in r.names if n in results)


def _gates(r: _Read, results: Mapping[str, Any]) -> tuple[Release, ...]:
    """The gates of one running Workflow that can be decided now."""
    if r.nodes is None or r.ended or r.ending.shutdown:
        return ()
    out = []
    for node_id in sorted(r.nodes):
        node = r.nodes[node_id]
        if node.get("templateName") != GATE_TEMPLATE or not is_active_suspend(node):
            continue
        sources = sources_of_node(node)
        if sources is None or any(s not in results for s in sources):
            continue
        decided = decide_gate([results[s] for s in sources])
        if decided is not None:
            out.append(Release(node_id, str(node.get("displayName") or node_id),
                               decided.phase, decided.message))
    return tuple(out)


def _unreadable(reads: Sequence[_Read]) -> list[DecidedCondition]:
    whys = [r.why_unreadable for r in reads if r.why_unreadable]
    if not whys:
        return []
    return [DecidedCondition(ConditionType.NODE_STATUS_AVAILABLE, ConditionStatus.FALSE,
                             NodeStatusReason.NODE_STATUS_UNREADABLE,
                             "; ".join(whys) + "; those steps are as last seen, not guessed")]
