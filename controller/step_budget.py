"""The run's step records within a budget (contract §8), as pure functions.

Why: a run of 10,000 steps has ~2 MB of step records (about 200 bytes each), past
etcd's 1.5 MiB; and every status write rewrites them all. So `status.stepStatuses`
lists every step while the list fits `STEP_STATUS_BUDGET` (256 KiB of JSON); past
it, every step that has not `Succeeded` (what a person looks for), and
`status.stepCounts` counts all of them by phase and reason; `orch get`/`watch`
read the rest from the Workflows (as Tekton's `childReferences` replaced embedded
statuses, tektoncd/pipeline #3140). When even the steps that have not succeeded
pass the budget (thousands skipped after one failure), they are kept in the order
a person needs them: failed, running, pending, skipped; each tier in declaration
order, as many as fit; the list stays in declaration order.

`BudgetedSteps.lists_every_unsucceeded` tells a reader (a resume deciding what to
reuse) whether a step missing from the list is known to have succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchapi.api import Obj
from orchapi.vocabulary import StepPhase

STEP_STATUS_BUDGET = 256 * 1024  # bytes of `status.stepStatuses` as compact JSON
# The order phases are counted in, and kept in when the budget is short.
_PHASES = (StepPhase.PENDING, StepPhase.RUNNING, StepPhase.SUCCEEDED, StepPhase.FAILED,
           StepPhase.SKIPPED)
_KEPT_FIRST = (StepPhase.FAILED, StepPhase.RUNNING, StepPhase.PENDING, StepPhase.SKIPPED)


@dataclass(frozen=True)
class BudgetedSteps:
    step_statuses: list[Obj]
    step_counts: list[Obj] | None  # None: step_statuses lists every step
    lists_every_unsucceeded: bool = True


def record_size(record: Mapping[str, Any]) -> int:
    """A record's bytes in the stored object (compact JSON, UTF-8)."""
    return len(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode())


def list_size(sizes: Sequence[int]) -> int:
    """The bytes of a JSON list of items of these sizes: `[a,b,c]`."""
    return sum(sizes) + max(len(sizes) - 1, 0) + 2


def count_steps(records: Sequence[Mapping[str, Any]]) -> list[Obj]:
    """`status.stepCounts`: how many steps are in each phase, for each reason (none
    first, then by name); phases in their lifecycle order, an unknown one last."""
    counts: dict[tuple[str, str], int] = {}
    for r in records:
        key = (_phase(r), str(r.get("reason") or ""))
        counts[key] = counts.get(key, 0) + 1
    rank = {str(p): i for i, p in enumerate(_PHASES)}
    out: list[Obj] = []
    for phase, reason in sorted(counts, key=lambda k: (rank.get(k[0], len(rank)), k)):
        entry: Obj = {"phase": phase}
        if reason:
            entry["reason"] = reason
        entry["count"] = counts[(phase, reason)]
        out.append(entry)
    return out


def _phase(record: Mapping[str, Any]) -> str:
    return str(record.get("phase") or StepPhase.PENDING)


def budget_steps(records: Sequence[Mapping[str, Any]],
                 budget: int = STEP_STATUS_BUDGET) -> BudgetedSteps:
    """`stepStatuses` (and `stepCounts`) for these records, in declaration order."""
    sizes = [record_size(r) for r in records]
    if list_size(sizes) <= budget:
        return BudgetedSteps([dict(r) for r in records], None)
    counts = count_steps(records)
    unsucceeded = [i for i, r in enumerate(records) if _phase(r) != StepPhase.SUCCEEDED]
    if list_size([sizes[i] for i in unsucceeded]) <= budget:
        return BudgetedSteps([dict(records[i]) for i in unsucceeded], counts)
    rank = {str(p): n for n, p in enumerate(_KEPT_FIRST)}  # an unknown phase: last
    order = sorted(unsucceeded, key=lambda i: (rank.get(_phase(records[i]), len(rank)), i))
    kept: list[int] = []
    used = 2  # the brackets
    for i in order:
        extra = sizes[i] + (1 if kept else 0)
        if used + extra <= budget:
            kept.append(i)
            used += extra
    return BudgetedSteps([dict(records[i]) for i in sorted(kept)], counts,
                         lists_every_unsucceeded=False)
