"""Kubernetes condition semantics, as pure functions over plain dicts.

Why a module: every status the controller writes carries conditions, and the one
rule people rely on (`lastTransitionTime` moves only when `status` changes) must
hold everywhere, or `kubectl wait` and dashboards see flapping transitions and
the controller sees a "changed" status on every reconcile (a hot loop on its own
writes). Conditions are kept in a stable order so equal content is equal dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from orchapi.semantics import DecidedCondition

ConditionDict = dict[str, Any]


def now_rfc3339() -> str:
    """Seconds-precision UTC time, the format metav1.Time serialises to."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_dict(condition: DecidedCondition, generation: int | None, now: str) -> ConditionDict:
    out: ConditionDict = {
        "type": str(condition.type),
        "status": str(condition.status),
        "reason": str(condition.reason),
        "message": condition.message,
        "lastTransitionTime": now,
    }
    if generation is not None:
        out["observedGeneration"] = generation
    return out


def set_condition(
    existing: Sequence[Mapping[str, Any]], condition: DecidedCondition, generation: int | None,
    now: str,
) -> list[ConditionDict]:
    """`existing` with `condition` put in its place (same type replaced, else appended);
    the old `lastTransitionTime` is kept when the status did not change."""
    new = to_dict(condition, generation, now)
    out: list[ConditionDict] = []
    replaced = False
    for old in existing:
        if old.get("type") == condition.type:
            if old.get("status") == new["status"] and old.get("lastTransitionTime"):
                new["lastTransitionTime"] = old["lastTransitionTime"]
            out.append(new)
            replaced = True
        else:
            out.append(dict(old))
    if not replaced:
        out.append(new)
    return out


def set_conditions(
    existing: Sequence[Mapping[str, Any]] | None,
    conditions: Iterable[DecidedCondition],
    generation: int | None,
    now: str,
) -> list[ConditionDict]:
    out = [dict(c) for c in existing or ()]
    for condition in conditions:
        out = set_condition(out, condition, generation, now)
    return out


def find_condition(
    existing: Sequence[Mapping[str, Any]] | None, type_: str
) -> Mapping[str, Any] | None:
    for c in existing or ():
        if c.get("type") == type_:
            return c
    return None


def is_true(existing: Sequence[Mapping[str, Any]] | None, type_: str) -> bool:
    found = find_condition(existing, type_)
    return found is not None and found.get("status") == "True"
