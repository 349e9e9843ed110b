"""Duplicate deliveries are one execution (contract §5; issue 20.6), as a pure
decision over the runs that share one.

Why: webhooks redeliver, so two runs of one Orchestration with one `spec.deliveryId`
in one namespace are one event; the reference system dedupes by `deliveryId` at
submission (`docs/agents/designs/controller-orchestration-submit-dedup.md`), but a
run created any other way (kubectl, GitOps, a SubOrchestration step carrying a
`deliveryId`) meets only this controller. The first run (oldest
`creationTimestamp`, then name) runs; a later one ends `Submitted=False`,
`DuplicateDelivery`, naming the first.

Races: runs created together are reconciled by different workers, and the list a
worker reads may not hold a run created in the same instant. So who holds a
delivery is decided from durable facts, and a decision to submit is made and
carried out under one lock per delivery (`controller.reconcile`): a run whose
Workflow exists, whose sealed status records one, or that ended for any reason but
being a duplicate, holds it for good, whatever its age; only while no run holds it
does the oldest alive one take it, and a later one waits (`Pending`) until the
first either takes it or goes away (deleted before it was submitted: then the next
oldest runs). After a restart the same facts are read again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller.conditions import find_condition
from orchapi.vocabulary import RUN_DONE, ConditionType, SubmitReason


def delivery_key(run: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(namespace, Orchestration, deliveryId) of a run that has a delivery id."""
    spec = run.get("spec") or {}
    delivery = spec.get("deliveryId")
    ref = spec.get("orchestrationRef")
    name = ref.get("name") if isinstance(ref, Mapping) else None
    if not isinstance(delivery, str) or not delivery or not isinstance(name, str):
        return None
    return str((run.get("metadata") or {}).get("namespace") or ""), name, delivery


def _age(run: Mapping[str, Any]) -> tuple[str, str]:
    meta = run.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def is_duplicate(run: Mapping[str, Any]) -> bool:
    """The run ended as another run's duplicate (it never holds the delivery)."""
    status = run.get("status") or {}
    submitted = find_condition(status.get("conditions"), ConditionType.SUBMITTED) or {}
    return status.get("phase") in RUN_DONE \
        and submitted.get("reason") == SubmitReason.DUPLICATE_DELIVERY


@dataclass(frozen=True)
class Holder:
    """Who holds the run's delivery, if another run: `name`; `final`: that run took
    it for good (this one is a duplicate), else it is the oldest and may yet."""

    name: str | None
    final: bool = False


def delivery_holder(run: Mapping[str, Any], others: Sequence[Mapping[str, Any]],
                    taken: Collection[str], trusted: Collection[str]) -> Holder:
    """The holder of `run`'s delivery among `others` (the other runs with its key,
    read live). `taken`: names of those whose Workflow exists (or that this process
    created one for); `trusted`: names of those whose status the controller wrote."""
    me = str((run.get("metadata") or {}).get("uid") or "")
    held, waiting = [], []
    for other in others:
        meta = other.get("metadata") or {}
        if str(meta.get("uid") or "") == me:
            continue
        name = str(meta.get("name") or "")
        status = other.get("status") or {}
        if name in trusted and is_duplicate(other):
            continue
        if name in taken or (name in trusted and (
                status.get("workflowRef") or status.get("phase") in RUN_DONE)):
            held.append(other)
        elif not meta.get("deletionTimestamp"):
            waiting.append(other)
    if held:
        return Holder(_age(min(held, key=_age))[1], final=True)
    older = [o for o in waiting if _age(o) < _age(run)]
    return Holder(_age(min(older, key=_age))[1]) if older else Holder(None)


def duplicate_message(key: tuple[str, str, str], holder: str) -> str:
    _, orchestration, delivery = key
    return (f'run "{holder}" already holds delivery "{delivery}" of Orchestration '
            f'"{orchestration}"; this run is a duplicate and submits nothing')


def waiting_message(key: tuple[str, str, str], holder: str) -> str:
    _, orchestration, delivery = key
    return (f'run "{holder}", created first with delivery "{delivery}" of Orchestration '
            f'"{orchestration}", has not been submitted yet; this run waits, and runs only '
            "if that one goes away first")
