"""The run's status as the controller writes it, composed from the old status and
what was decided, as pure functions.

Why one module: three rules must hold for every write, whatever was decided:
- fields other writers own are kept (the reference system writes `runId`,
  `updatedAt`; another controller may add a condition or a key to a step's
  entry): only `OWN_KEYS` of the status and `OWN_STEP_KEYS` of each step entry
  are the controller's, everything else is carried over (contract §5);
- messages are capped (`MAX_STEP_MESSAGE` bytes per step, `MAX_CONDITION_MESSAGE`
  per condition, JSON-encoded), so 200 steps with long termination messages stay
  far below etcd's 1.5 MiB object limit;
- conditions follow Kubernetes' rules (`controller.conditions`), and
  `NodeStatusAvailable=False` turns True once Argo's node status can be read again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from controller import conditions as conds
from controller.mirror import Mirror
from controller.step_budget import budget_steps
from orchapi.api import GENERATION_ANNOTATION, Obj
from orchapi.semantics import DecidedCondition
from orchapi.vocabulary import (
    ConditionStatus,
    ConditionType,
    NodeStatusReason,
    RunPhase,
    RunReason,
    SubmitReason,
)

OWN_KEYS = ("observedGeneration", "orchestrationGeneration", "workflowRef", "workflows",
            "phase", "progress", "startedAt", "finishedAt", "stepStatuses", "stepCounts",
            "conditions", "seal")  # `seal`: controller.seal, added to every write by the executor
OWN_STEP_KEYS = ("name", "kind", "phase", "reason", "message", "startedAt", "finishedAt",
                 "attempt")
MAX_STEP_MESSAGE = 1024  # bytes, JSON-encoded: 200 steps -> at most ~200 KiB of messages
MAX_CONDITION_MESSAGE = 4096
_ELLIPSIS = " [...]"


def _size(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False).encode())


def cap(text: str, limit: int) -> str:
    """`text`, cut so that its JSON encoding is at most `limit` bytes (escapes of
    control characters and UTF-8 count), marked with `[...]` when cut."""
    if _size(text) <= limit:
        return text
    cut = text.encode()[:max(0, limit - len(_ELLIPSIS) - 2)].decode(errors="ignore")
    while cut and _size(cut + _ELLIPSIS) > limit:
        # An escaped character takes at most 6 bytes: drop enough to fit.
        cut = cut[:len(cut) - max(1, (_size(cut + _ELLIPSIS) - limit) // 6)]
    return cut + _ELLIPSIS


def _capped(conditions: Iterable[DecidedCondition]) -> list[DecidedCondition]:
    return [DecidedCondition(c.type, c.status, c.reason, cap(c.message, MAX_CONDITION_MESSAGE))
            for c in conditions]


def _foreign(old: Mapping[str, Any]) -> Obj:
    return {k: v for k, v in old.items() if k not in OWN_KEYS}


def _steps(old: Iterable[Mapping[str, Any]] | None, new: Iterable[Mapping[str, Any]]
           ) -> list[Obj]:
    """The new step entries, each keeping the keys others wrote into its old entry."""
    before = {s.get("name"): s for s in old or ()}
    out = []
    for step in new:
        kept = {k: v for k, v in (before.get(step["name"]) or {}).items()
                if k not in OWN_STEP_KEYS}
        entry = {**kept, **step}
        if isinstance(entry.get("message"), str):
            entry["message"] = cap(entry["message"], MAX_STEP_MESSAGE)
        out.append(entry)
    return out


def _conditions(old: Mapping[str, Any], new: Iterable[DecidedCondition], generation: int | None,
                now: str) -> list[Obj]:
    wanted = _capped(new)
    types = {c.type for c in wanted}
    offloaded = conds.find_condition(old.get("conditions"), ConditionType.NODE_STATUS_AVAILABLE)
    if ConditionType.NODE_STATUS_AVAILABLE not in types and offloaded is not None \
            and offloaded.get("status") != ConditionStatus.TRUE:
        wanted.append(DecidedCondition(ConditionType.NODE_STATUS_AVAILABLE, ConditionStatus.TRUE,
                                       NodeStatusReason.NODE_STATUS_IN_WORKFLOW,
                                       "Argo's node status is in the Workflow again"))
    return conds.set_conditions(old.get("conditions"), wanted, generation, now)


def mirrored(old: Mapping[str, Any], mirror: Mirror, workflow: Mapping[str, Any] | None,
             generation: int | None, now: str) -> Obj:
    """The status for a run whose Workflow is `workflow` (None: gone), as mirrored."""
    new: Obj = {**_foreign(old), "observedGeneration": generation}
    if workflow is not None:
        meta = workflow["metadata"]
        annotations = meta.get("annotations") or {}
        if GENERATION_ANNOTATION in annotations:
            new["orchestrationGeneration"] = int(annotations[GENERATION_ANNOTATION])
        new["workflowRef"] = {"name": meta["name"], "namespace": meta["namespace"],
                              "uid": meta["uid"]}
    else:
        for k in ("orchestrationGeneration", "workflowRef"):
            if k in old:
                new[k] = old[k]
    new["phase"] = mirror.phase
    new["progress"] = mirror.progress
    started = mirror.started_at or old.get("startedAt") or now
    new["startedAt"] = started
    if mirror.finished_at:
        new["finishedAt"] = mirror.finished_at
    new["stepStatuses"] = _steps(old.get("stepStatuses"), mirror.step_statuses)
    new["conditions"] = _conditions(old, mirror.conditions, generation, now)
    return new


def refused(old: Mapping[str, Any], reason: str, message: str, generation: int | None,
            now: str, steps: list[Obj] | None = None) -> Obj:
    """Nothing is submitted; the run fails with the reason (terminal). `steps`: each
    step resolved (`mirror.refused_statuses`), when the Orchestration is known."""
    resolved: Obj = {} if not steps else {
        "progress": f"{len(steps)}/{len(steps)}",
        "stepStatuses": _steps(old.get("stepStatuses"), steps)}
    return {**_foreign(old), "observedGeneration": generation,
            "phase": str(RunPhase.FAILED), "finishedAt": old.get("finishedAt") or now,
            **resolved,
            "conditions": _conditions(old, (
                DecidedCondition(ConditionType.SUBMITTED, ConditionStatus.FALSE, reason, message),
                DecidedCondition(ConditionType.SUCCEEDED, ConditionStatus.FALSE, reason,
                                 "nothing was submitted")), generation, now)}


def cancelled_unsubmitted(old: Mapping[str, Any], steps: list[Obj], generation: int | None,
                          now: str) -> Obj:
    """Cancelled before its Workflow was submitted: nothing is, every step is
    `Skipped`/`Cancelled` (terminal; contract §3)."""
    return {**_foreign(old), "observedGeneration": generation,
            "phase": str(RunPhase.CANCELLED), "progress": f"{len(steps)}/{len(steps)}",
            "startedAt": old.get("startedAt") or now,
            "finishedAt": old.get("finishedAt") or now,
            "stepStatuses": _steps(old.get("stepStatuses"), steps),
            "conditions": _conditions(old, (
                DecidedCondition(ConditionType.SUBMITTED, ConditionStatus.FALSE,
                                 SubmitReason.CANCELLED,
                                 "cancelled (spec.cancel) before its Workflow was submitted"),
                DecidedCondition(ConditionType.SUCCEEDED, ConditionStatus.FALSE,
                                 RunReason.CANCELLED,
                                 "cancelled (spec.cancel) before it started; nothing ran")),
                generation, now)}


def waiting(old: Mapping[str, Any], reason: str, message: str, generation: int | None,
            now: str) -> Obj:
    """Not submitted yet, and retried: phase Pending, `Submitted=False` with why
    (`WorkflowNotOwned`, `WorkflowCreateFailed`); everything else kept."""
    return {**old, "observedGeneration": generation, "phase": str(RunPhase.PENDING),
            "conditions": _conditions(old, (
                DecidedCondition(ConditionType.SUBMITTED, ConditionStatus.FALSE, reason, message),),
                generation, now)}


def create_failed_message(code: int, reason: str, message: str) -> str:
    return (f"the apiserver refused to create the Workflow ({code} {reason}): {message}; "
            "retrying with backoff")


def not_owned_message(workflow: Mapping[str, Any], owner: Mapping[str, Any] | None) -> str:
    who = (f"OrchestrationRun {owner.get('name')} (uid {owner.get('uid')})" if owner
           else "no OrchestrationRun")
    return (f'Workflow "{workflow["metadata"]["name"]}" already exists and is owned by {who}, '
            "not by this run; it is not adopted")



def split_recorded(old: Mapping[str, Any], names: Iterable[str], generation: int | None,
                   orchestration_generation: int | None) -> Obj:
    """A split run (contract §8) before its Workflows exist: the set it will
    create, by name, recorded first, so no later reconcile (a restart, a lost
    write) ever makes a second set, and the Orchestration generation they are
    compiled from (a missing one is created again only from that generation)."""
    new: Obj = {**old, "observedGeneration": generation, "phase": str(RunPhase.PENDING),
                "workflows": [{"name": n} for n in names]}
    if orchestration_generation is not None:
        new["orchestrationGeneration"] = orchestration_generation
    return new


def mirrored_split(old: Mapping[str, Any], mirror: Mirror, refs: list[Obj],
                   generation: int | None, now: str) -> Obj:
    """The status of a split run, as mirrored from its Workflows (`refs`: each one's
    name, namespace and uid); its step records within `controller.step_budget`'s
    budget (every step while they fit 256 KiB, else every step that has not
    succeeded, and `stepCounts`)."""
    new: Obj = {**_foreign(old), "observedGeneration": generation}
    if "orchestrationGeneration" in old:
        new["orchestrationGeneration"] = old["orchestrationGeneration"]
    new["workflows"] = refs
    new["phase"] = mirror.phase
    new["progress"] = mirror.progress
    new["startedAt"] = mirror.started_at or old.get("startedAt") or now
    if mirror.finished_at:
        new["finishedAt"] = mirror.finished_at
    budgeted = budget_steps(_steps(old.get("stepStatuses"), mirror.step_statuses))
    new["stepStatuses"] = budgeted.step_statuses
    if budgeted.step_counts is not None:
        new["stepCounts"] = budgeted.step_counts
    new["conditions"] = _conditions(old, mirror.conditions, generation, now)
    return new
