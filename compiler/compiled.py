"""Reading back a Workflow this compiler emitted: its step tasks and step graph.

Why here: the shape is the compiler's own (an entry DAG whose tasks are the
steps, plus the final outcome task and the no-op tasks of reused steps), so the
one reading of it lives next to the code that writes it; the controller's mirror
and the terminal's views both use it, and a submitted run's graph is taken from
its Workflow (editing the Orchestration later does not change a submitted run).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from compiler.api import STEP_KINDS_ANNOTATION
from compiler.compressed import UnreadableNodesError, decode_compressed_nodes
from compiler.graph import Graph, Node
from compiler.outcome import is_outcome_task
from compiler.resume import is_reused_task

Obj = dict[str, Any]


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
