"""Resume or fail one suspend node of a Workflow, exactly as `argo node set` and
`argo resume --node-field-selector` do, as a pure function over the Workflow.

Why pure and why a copy of Argo's steps: the controller releases an ApprovalGate
or SignalWait by writing the Workflow (Argo's Workflow CRD has no status
subresource: `argo resume` PUTs the whole object), and Argo's controller must see
exactly what its own CLI would have written. The steps, from argo-workflows v4.0.5
`workflow/util/util.go` `updateSuspendedNode` (l.532), which both commands reach
through `server/workflow/workflow_server.go` (ResumeWorkflow l.551, SetWorkflow
l.652), and `workflow/hydrator/hydrator.go`:

1. hydrate: `status.compressedNodes` (base64 of gzip, zstd or brotli JSON,
   `packer.DecompressWorkflow`, `compiler.compressed`) becomes `status.nodes`;
   node status offloaded to Argo's database (`offloadNodeStatusVersion`) cannot
   be read without that database;
2. only an active suspend node (`type: Suspend`, `phase: Running`,
   `IsActiveSuspendNode`) is changed: its `phase`; `finishedAt` (now, UTC, whole
   seconds as metav1.Time writes it) when the phase is fulfilled (`Fulfilled`:
   completed, with `taskResultSynced` absent or true); its `message` when one is
   given;
3. dehydrate: compress the nodes again only if the Workflow's JSON is larger than
   `MAX_WORKFLOW_SIZE` (1 MiB; `packer.CompressWorkflowIfNeeded`), and refuse when
   even compressed it is (Argo would offload it, which needs the database);
4. `creator.LabelActor` without a user's claims (the controller has none) removes
   the actor and action labels.

The caller PUTs the result with the resourceVersion it read and, on a conflict,
reads again and calls this again (Argo retries the same way,
`retry.DefaultRetry`: 5 steps from 10 ms, factor 2).
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
from collections.abc import Mapping
from typing import Any

from compiler.compiled import decode_nodes
from compiler.compressed import UnreadableNodesError
from controller.mapping import controller_owner
from controller.mirror import node_view
from orchapi.api import Obj
from orchapi.argo import ACTOR_LABELS, ArgoNodeType, ArgoPhase

MAX_WORKFLOW_SIZE = 1024 * 1024  # packer.getMaxWorkflowSize, without MAX_WORKFLOW_SIZE set
# The phases `argo node set --phase` accepts (workflow_server.go SetWorkflow l.664).
SETTABLE = frozenset({ArgoPhase.SUCCEEDED, ArgoPhase.FAILED, ArgoPhase.ERROR})
_COMPLETED = frozenset({ArgoPhase.SUCCEEDED, ArgoPhase.FAILED, ArgoPhase.ERROR})


class NodeUpdateError(Exception):
    """The node cannot be set (not an active suspend node, offloaded, too large)."""


class NotSuspendedError(NodeUpdateError):
    """The node is not an active suspend node (any more): someone resumed it."""


def is_active_suspend(node: Mapping[str, Any]) -> bool:
    """`NodeStatus.IsActiveSuspendNode` (workflow_types.go l.2726)."""
    return node.get("type") == ArgoNodeType.SUSPEND and node.get("phase") == ArgoPhase.RUNNING


def hydrated_nodes(status: Mapping[str, Any]) -> dict[str, Obj]:
    """`packer.DecompressWorkflow`: the nodes, decompressed when Argo compressed them
    (compressed nodes are read first, then an offload is refused, as Argo's
    hydrator orders them)."""
    compressed = not status.get("nodes") and status.get("compressedNodes")
    if status.get("offloadNodeStatusVersion") and not compressed:
        raise NodeUpdateError(
            "Argo offloaded the Workflow's node status to its database "
            f"(offloadNodeStatusVersion {status['offloadNodeStatusVersion']}); "
            "only the Argo Server can change it (argo resume with ARGO_SERVER)")
    try:
        return decode_nodes(status) or {}
    except UnreadableNodesError as e:
        raise NodeUpdateError(f"the Workflow's node status cannot be read: {e}") from None


def _size(workflow: Mapping[str, Any]) -> int:
    # Go marshals the typed struct (omitempty); the apiserver's JSON of the same
    # object differs from it by a few bytes at most.
    return len(json.dumps(workflow, separators=(",", ":"), ensure_ascii=False).encode())


def _dehydrate(workflow: Obj, max_size: int) -> None:
    """`hydrator.Dehydrate` for a hydrated Workflow, without an offload database."""
    status = workflow["status"]
    status.pop("offloadNodeStatusVersion", None)
    if _size(workflow) <= max_size:
        return
    nodes = status.pop("nodes")
    text = json.dumps(nodes, separators=(",", ":"), ensure_ascii=False)
    status["compressedNodes"] = base64.b64encode(gzip.compress(text.encode())).decode()
    if _size(workflow) > max_size:
        raise NodeUpdateError(
            f"the Workflow is larger than {max_size} bytes even with its nodes compressed; "
            "Argo would offload its node status to a database")


def set_suspend_node(workflow: Mapping[str, Any], node_id: str, phase: str, message: str,
                     now: str, max_size: int = MAX_WORKFLOW_SIZE) -> Obj:
    """A copy of `workflow` with the suspend node `node_id` set to `phase` (and
    `message`, when not empty), ready to PUT. `now` is RFC 3339 UTC."""
    if phase not in SETTABLE:
        raise ValueError(f"{phase!r} is not a phase argo node set accepts")
    out: Obj = copy.deepcopy(dict(workflow))
    status: Obj = out.setdefault("status", {})
    nodes = hydrated_nodes(status)
    node = nodes.get(node_id)
    if node is None or not is_active_suspend(node):
        raise NotSuspendedError(f"node {node_id} is not an active suspend node"
                           + (f" (phase {node.get('phase')})" if node else " (no such node)"))
    node = dict(node)
    node["phase"] = phase
    synced = node.get("taskResultSynced")
    if phase in _COMPLETED and (synced is None or synced is True):
        node["finishedAt"] = whole_seconds(now)
    if message:
        node["message"] = message
    nodes[node_id] = node
    status["nodes"] = nodes
    status.pop("compressedNodes", None)
    _dehydrate(out, max_size)
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        for key in ACTOR_LABELS:
            labels.pop(key, None)
    return out


def whole_seconds(rfc3339: str) -> str:
    """A time as metav1.Time serialises it: RFC 3339, UTC, whole seconds."""
    head = rfc3339.replace("+00:00", "Z")
    if "." in head:
        head = head.split(".", 1)[0] + "Z"
    return head


def hydrated(workflow: Obj | None, run_uid: str) -> Obj | None:
    """The Workflow with Argo's compressed node status decoded, once per reconcile
    (the mirror and the waits then read `status.nodes`), and only for the run that
    owns it: a Workflow that merely carries the run's label is never decoded
    (issue 22). Decoding is bounded (`compiler.compressed`); what cannot be decoded
    is left as it is, for the mirror to say so."""
    status = (workflow or {}).get("status") or {}
    owner = controller_owner(workflow) if workflow is not None else None
    if workflow is None or status.get("nodes") or not status.get("compressedNodes") \
            or owner is None or owner.get("uid") != run_uid:
        return workflow
    try:
        nodes = hydrated_nodes(status)
    except NodeUpdateError:
        return workflow
    rest = {k: v for k, v in status.items() if k != "compressedNodes"}
    return {**workflow, "status": {**rest, "nodes": {k: node_view(n) for k, n in nodes.items()}}}
