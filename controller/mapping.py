"""Watch events -> work queue keys, as pure functions.

Why: reconciliation is level-based (it reads the current state and ignores which
event woke it), so the only decision an event makes is *which* object to look at
again. A Workflow wakes the run that owns it (by the `controller` ownerReference,
else by the run label the compiler puts on it); a run or an Orchestration wakes
itself. An Orchestration does not wake its runs: a submitted run was compiled once
and does not change when its Orchestration does (§5).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from orchapi.api import GROUP, ORCHESTRATION_KIND, RUN_KIND, RUN_LABEL, Obj
from orchapi.argo import ARGO_DONE, WORKFLOW_KIND
from orchapi.vocabulary import RUN_DONE

ORCHESTRATION = ORCHESTRATION_KIND
RUN = RUN_KIND
WORKFLOW = WORKFLOW_KIND


# A read of the informers' cache: (namespace, name) -> the object, or None.
Lookup = Callable[[str, str], Obj | None]


@dataclass(frozen=True, order=True, slots=True)
class Key:
    """What the queue holds: one object to reconcile."""

    kind: str  # Orchestration or OrchestrationRun
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


def controller_owner(obj: Mapping[str, Any], kind: str = RUN) -> Mapping[str, Any] | None:
    """The ownerReference with `controller: true` of `kind` in our group, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller") and ref.get("kind") == kind \
                and str(ref.get("apiVersion", "")).startswith(f"{GROUP}/"):
            found: Mapping[str, Any] = ref
            return found
    return None


def keys_for(kind: str, obj: Mapping[str, Any]) -> list[Key]:
    """The keys an event on `obj` (of `kind`) enqueues."""
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace") or "", meta.get("name") or ""
    if kind in (ORCHESTRATION, RUN):
        return [Key(kind, namespace, name)] if name else []
    if kind == WORKFLOW:
        owner = controller_owner(obj)
        if owner is not None:
            return [Key(RUN, namespace, str(owner["name"]))]
        label = (meta.get("labels") or {}).get(RUN_LABEL)
        # A Workflow we do not own but that carries a run's label may be the one
        # blocking that run's submission (WorkflowNotOwned): wake the run.
        return [Key(RUN, namespace, label)] if label else []
    return []


def own_key(kind: str, obj: Mapping[str, Any]) -> Key:
    """The key under which this controller remembers its last write of `obj`."""
    meta = obj.get("metadata") or {}
    return Key(kind, meta.get("namespace") or "", meta.get("name") or "")


def is_own_write(key: Key, obj: Mapping[str, Any], written: Mapping[Key, str]) -> bool:
    """The event only echoes what this controller wrote (same resourceVersion): a
    status, or a Workflow it created; reconciling again would change nothing."""
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    return rv is not None and written.get(key) == rv


def is_settled(run: Mapping[str, Any]) -> bool:
    """A run with nothing left to do: it ended, and its status describes its current
    generation (a run's spec is immutable but for `cancel`). Its events, and its
    Workflow's, wake nothing: a steady-state run costs no reconcile, restarts
    included."""
    status = run.get("status") or {}
    return status.get("phase") in RUN_DONE \
        and status.get("observedGeneration") == (run.get("metadata") or {}).get("generation")


def has_ended(workflow: Mapping[str, Any]) -> bool:
    """Argo finished it (its cached copy is then kept compressed)."""
    return (workflow.get("status") or {}).get("phase") in ARGO_DONE
