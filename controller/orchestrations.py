"""Reconcile one Orchestration: validate it and say so in its status (contract §2.4).

Why its own module: an Orchestration's status depends only on its spec, so the
reconcile is a function of (object, time). It is skipped when the status already
describes this generation, so an invalid spec is never retried or re-judged until
someone changes it (its generation moves), and a resync costs nothing.

The cache keeps only what the controller reads of an Orchestration without asking
the apiserver (`orchestration_view`): whether it is judged, its step graph, and
what its SubOrchestration steps call. Judging and submitting read it live. So an
Orchestration at the apiserver's size limit, its steps' unknown keys full of
empty objects (kept by the CRD), costs the cache a few hundred bytes instead of
35 MiB (issue 22).
"""

from __future__ import annotations

from typing import Any

from compiler.render import condition_message
from controller import conditions as conds
from controller.kube import Kube, retry_on_conflict
from controller.mapping import Key, Lookup
from controller.validation import check_orchestration_object
from orchapi.api import MAX_STEPS, ORCHESTRATIONS, SUB_ORCHESTRATION, Obj
from orchapi.semantics import DecidedCondition
from orchapi.vocabulary import (
    VALID,
    ConditionStatus,
    ConditionType,
    OrchestrationPhase,
)


def orchestration_status(obj: Obj, now: str, max_steps: int = MAX_STEPS) -> dict[str, Any]:
    """The status this Orchestration should have (`max_steps`: contract §8)."""
    old = obj.get("status") or {}
    gen = obj["metadata"].get("generation")
    problems, _ = check_orchestration_object(obj, max_steps)
    if problems:
        phase = OrchestrationPhase.INVALID
        ready = DecidedCondition(ConditionType.READY, ConditionStatus.FALSE,
                                 str(problems[0].reason), condition_message(problems))
    else:
        phase = OrchestrationPhase.READY
        ready = DecidedCondition(ConditionType.READY, ConditionStatus.TRUE, VALID,
                                 f"{len(obj['spec']['steps'])} steps, valid")
    return {**old, "observedGeneration": gen, "phase": str(phase),
            "conditions": conds.set_conditions(old.get("conditions"), (ready,), gen, now)}


_META_KEYS = ("name", "namespace", "uid", "resourceVersion", "generation",
              "creationTimestamp", "deletionTimestamp")
# What a cached step is read for: the graph of a run that has no Workflow
# (`graph_from_orchestration`) and the calls of SubOrchestration steps
# (`controller.admission`, which reads `orchestrationRef` and `with`).
_STEP_KEYS = ("name", "kind", "dependsOn", "continueOnFailure")
_CALL_KEYS = ("orchestrationRef", "with")


def orchestration_view(obj: Obj) -> Obj:
    """The Orchestration cut to what is read from the cache. Idempotent."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    steps = spec.get("steps") if isinstance(spec, dict) else None
    out: Obj = {"metadata": {k: meta[k] for k in _META_KEYS if k in meta}}
    if isinstance(steps, list):
        out["spec"] = {"steps": [_step_view(s) for s in steps if isinstance(s, dict)]}
    status = obj.get("status")
    if isinstance(status, dict):
        out["status"] = {k: status[k] for k in ("observedGeneration", "phase") if k in status}
    for k in ("apiVersion", "kind"):
        if k in obj:
            out[k] = obj[k]
    return out


def _step_view(step: Obj) -> Obj:
    keys = _STEP_KEYS + (_CALL_KEYS if step.get("kind") == SUB_ORCHESTRATION else ())
    return {k: step[k] for k in keys if k in step}


def is_judged(obj: Obj) -> bool:
    """Its status already describes its current generation: nothing to do."""
    status = obj.get("status") or {}
    return status.get("observedGeneration") == obj["metadata"].get("generation") \
        and status.get("phase") in set(OrchestrationPhase)


def reconcile_orchestration(kube: Kube, lookup: Lookup, key: Key,
                            max_steps: int = MAX_STEPS) -> str | None:
    """Write the status if it changed; the new resourceVersion when written. The
    cache says whether there is anything to do; the spec is judged as read live
    (the cache holds only a view of it)."""
    cached = lookup(key.namespace, key.name)
    if cached is None or is_judged(cached):
        return None

    def attempt(_: int) -> str | None:
        obj = kube.get(ORCHESTRATIONS, key.namespace, key.name)
        if obj is None or is_judged(obj):
            return None
        status = obj.get("status") or {}
        new = orchestration_status(obj, conds.now_rfc3339(), max_steps)
        if new == status:
            return None
        # The status subresource takes only the status: the spec (which a tenant
        # may have filled to the size limit) is not sent back.
        body: Obj = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
        written = kube.replace_status(ORCHESTRATIONS, key.namespace, key.name,
                                      {**body, "status": new})
        return str(written["metadata"]["resourceVersion"])
    return retry_on_conflict(attempt)
