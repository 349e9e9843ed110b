"""Reading back a Workflow this compiler emitted: its step tasks and step graph.

Why here: the shape is the compiler's own (an entry DAG whose tasks are the
steps, plus the final outcome task and the no-op tasks of reused steps), so the
one reading of it lives next to the code that writes it; the controller's mirror
and the terminal's views both use it, and a submitted run's graph is taken from
its Workflow (editing the Orchestration later does not change a submitted run).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from compiler.compressed import UnreadableNodesError, decode_compressed_nodes
from compiler.gates import is_gate_task, sources_of_task
from compiler.outcome import is_outcome_task
from compiler.resume import is_reused_task
from orchapi.api import STEP_INDEXES_ANNOTATION, STEP_KINDS_ANNOTATION, Obj
from orchapi.argo import ArgoNodeType
from orchapi.graph import Graph, Node


class WorkflowShapeError(ValueError):
    """The Workflow is not one this compiler emits (no entry DAG template)."""


def step_tasks(workflow: Mapping[str, Any]) -> list[Obj]:
    """The entry DAG's tasks that are steps (not the final outcome task), in order."""
    spec = workflow.get("spec") or {}
    entry = spec.get("entrypoint")
    template = next((t for t in spec.get("templates") or () if t.get("name") == entry), None)
    if template is None or "dag" not in template:
        raise WorkflowShapeError(f"the Workflow has no DAG template named {entry!r}")
    return [t for t in template["dag"].get("tasks") or () if not is_outcome_task(t)]


def graph_from_workflow(workflow: Mapping[str, Any]) -> Graph:
    """The step graph of a compiled Workflow: its entry DAG's step tasks, in order,
    with each step's kind from the controller's step-kinds annotation."""
    annotations = (workflow.get("metadata") or {}).get("annotations") or {}
    try:
        kinds: dict[str, str] = json.loads(annotations.get(STEP_KINDS_ANNOTATION) or "{}")
    except ValueError:
        kinds = {}
    return Graph(tuple(
        Node(t["name"], kinds.get(t["name"], ""), tuple(t.get("dependencies") or ()),
             bool((t.get("continueOn") or {}).get("failed")))
        for t in step_tasks(workflow)
    ))


def reused_steps(workflow: Mapping[str, Any]) -> frozenset[str]:
    """The steps a resumed run reuses: their tasks are the compiler's no-ops."""
    return frozenset(t["name"] for t in step_tasks(workflow) if is_reused_task(t))


def decode_nodes(status: Mapping[str, Any]) -> dict[str, Obj] | None:
    """Argo's `status.nodes`, or `status.compressedNodes` decoded (base64 of gzip,
    zstd or brotli JSON, within bounds: `compiler.compressed`); None when Argo
    offloaded them to its database (`offloadNodeStatusVersion`). Nodes that
    cannot be read (corrupt, too large) are UnreadableNodesError."""
    nodes = status.get("nodes")
    if nodes:
        if not isinstance(nodes, Mapping):
            raise UnreadableNodesError("status.nodes is not a map of nodes")
        return {k: v for k, v in nodes.items() if isinstance(v, dict)}
    if status.get("compressedNodes"):
        decoded = decode_compressed_nodes(status["compressedNodes"])
        return {k: v for k, v in decoded.items() if isinstance(v, dict)}
    if status.get("offloadNodeStatusVersion"):
        return None
    return {}


def step_nodes(workflows: Sequence[Mapping[str, Any]], names: set[str]
               ) -> dict[str, Obj]:
    """The Argo node of each named step in a run's Workflows (a split run has
    several), by `displayName`: step names are unique in a run, and the compiler's
    gates, part and outcome tasks never take one; a Retry node wins over its
    attempts. A Workflow whose nodes cannot be read adds none."""
    out: dict[str, Obj] = {}
    for wf in workflows:
        try:
            nodes = decode_nodes(wf.get("status") or {}) or {}
        except UnreadableNodesError:
            continue
        for n in nodes.values():
            name = n.get("displayName")
            if name in names and (name not in out or n.get("type") == ArgoNodeType.RETRY):
                out[str(name)] = n
    return out


def graph_from_orchestration(orchestration: Mapping[str, Any]) -> Graph:
    """The step graph of an Orchestration as the apiserver returns it (no models:
    `orch get` and the controller read it for a run that has no Workflow). The
    modes of contract §2.1: sequential unless some step has `dependsOn`."""
    steps = [s for s in (orchestration.get("spec") or {}).get("steps") or ()
             if isinstance(s, Mapping) and isinstance(s.get("name"), str)]
    sequential = not any("dependsOn" in s for s in steps)
    nodes = []
    for i, s in enumerate(steps):
        deps = ((steps[i - 1]["name"],) if i else ()) if sequential \
            else tuple(d for d in s.get("dependsOn") or () if isinstance(d, str))
        nodes.append(Node(s["name"], str(s.get("kind") or ""), deps,
                          bool(s.get("continueOnFailure"))))
    return Graph(tuple(nodes), sequential=sequential)


# -- a run split into several Workflows (compiler.emit_run) --------------------------
def steps_of(workflow: Mapping[str, Any]) -> list[Obj]:
    """The step tasks of one Workflow of a split run, in reading order: its DAG
    templates in order, each one's tasks in order, less gates, outcome tasks and
    the entry's tasks that run a part."""
    return [task for tasks in _dags(workflow) for task in tasks
            if not is_gate_task(task) and not is_outcome_task(task)]


def _dags(workflow: Mapping[str, Any]) -> list[list[Obj]]:
    """The tasks of each DAG template, in template order, less the tasks that run
    another DAG template (a part, from the entry)."""
    templates = (workflow.get("spec") or {}).get("templates") or ()
    dags = {t.get("name") for t in templates if "dag" in t}
    return [[task for task in t["dag"].get("tasks") or () if task.get("template") not in dags]
            for t in templates if "dag" in t]


def graph_from_workflows(workflows: Sequence[Mapping[str, Any]]) -> Graph:
    """The step graph of a split run from its Workflows, steps in declaration order
    (the `step-indexes` annotation): each step's dependencies are those inside its
    part and the sources of the gates it waits on, in declaration order (the split
    keeps which steps a step depends on, not the order its `dependsOn` listed them);
    kinds from the step-kinds annotation."""
    found: list[tuple[int, str, str, list[str], bool]] = []
    for workflow in workflows:
        annotations = (workflow.get("metadata") or {}).get("annotations") or {}
        kinds: dict[str, str] = _json(annotations.get(STEP_KINDS_ANNOTATION)) or {}
        indexes: list[int] = _json(annotations.get(STEP_INDEXES_ANNOTATION)) or []
        i = 0
        for tasks in _dags(workflow):
            gates = {t["name"]: sources_of_task(t) or () for t in tasks if is_gate_task(t)}
            for task in tasks:
                if is_gate_task(task) or is_outcome_task(task):
                    continue
                deps = [s for d in task.get("dependencies") or () for s in gates.get(d, (d,))]
                found.append((indexes[i] if i < len(indexes) else len(found), task["name"],
                              kinds.get(task["name"], ""), deps,
                              bool((task.get("continueOn") or {}).get("failed"))))
                i += 1
    found.sort(key=lambda f: f[0])
    rank = {f[1]: i for i, f in enumerate(found)}
    return Graph(tuple(
        Node(name, kind, tuple(sorted(dict.fromkeys(deps), key=lambda d: rank.get(d, -1))),
             best_effort)
        for _, name, kind, deps, best_effort in found))


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
