"""Reconcile one Orchestration: validate it and say so in its status (contract §2.4).

Why its own module: an Orchestration's status depends only on its spec, so the
reconcile is a function of (object, time). It is skipped when the status already
describes this generation, so an invalid spec is never retried or re-judged until
someone changes it (its generation moves), and a resync costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compiler.api import MAX_STEPS
from compiler.render import condition_message
from compiler.semantics import Condition
from compiler.vocabulary import (
    VALID,
    ConditionStatus,
    ConditionType,
    OrchestrationPhase,
)
from controller import conditions as conds
from controller.kube import ORCHESTRATIONS, Kube, Obj, retry_on_conflict
from controller.mapping import Key
from controller.validation import check_orchestration_object

Lookup = Callable[[str, str], Obj | None]


def orchestration_status(obj: Obj, now: str, max_steps: int = MAX_STEPS) -> dict[str, Any]:
    """The status this Orchestration should have (`max_steps`: contract §8)."""
    old = obj.get("status") or {}
    gen = obj["metadata"].get("generation")
    problems, _ = check_orchestration_object(obj, max_steps)
    if problems:
        phase = OrchestrationPhase.INVALID
        ready = Condition(ConditionType.READY, ConditionStatus.FALSE, str(problems[0].reason),
                          condition_message(problems))
    else:
        phase = OrchestrationPhase.READY
        ready = Condition(ConditionType.READY, ConditionStatus.TRUE, VALID,
                          f"{len(obj['spec']['steps'])} steps, valid")
    return {**old, "observedGeneration": gen, "phase": str(phase),
            "conditions": conds.set_conditions(old.get("conditions"), (ready,), gen, now)}


def is_judged(obj: Obj) -> bool:
    """Its status already describes its current generation: nothing to do."""
    status = obj.get("status") or {}
    return status.get("observedGeneration") == obj["metadata"].get("generation") \
        and status.get("phase") in set(OrchestrationPhase)


def reconcile_orchestration(kube: Kube, lookup: Lookup, key: Key,
                            max_steps: int = MAX_STEPS) -> str | None:
    """Write the status if it changed; the new resourceVersion when written."""
    def attempt(n: int) -> str | None:
        obj = (kube.get(ORCHESTRATIONS, key.namespace, key.name) if n
               else lookup(key.namespace, key.name))
        if obj is None or is_judged(obj):
            return None
        status = obj.get("status") or {}
        new = orchestration_status(obj, conds.now_rfc3339(), max_steps)
        if new == status:
            return None
        written = kube.replace_status(ORCHESTRATIONS, key.namespace, key.name,
                                      {**obj, "status": new})
        return str(written["metadata"]["resourceVersion"])
    return retry_on_conflict(attempt)
