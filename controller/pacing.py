"""When a run's status is written: what someone acts on at once, the ordinary
advance of its steps at most once every `STATUS_INTERVAL` per run, and for all
runs together at most about `ADVANCE_RATE` a second.

Why: a run's status mirrors its Workflow, and Argo writes a Workflow each time it
moves a step along (11 writes for a 10-step chain). Mirroring each as it came made
the run's status writes 12 of the controller's 17 requests per run, and as much of
the apiserver's work (benchmarks.many_runs, docs/throughput.md). Only a step that
started or succeeded while the run keeps running waits (its entry's phase, times,
attempt and message, the progress, the running summary in the `Succeeded=Unknown`
condition's message): a change of the run's phase, of a condition's status or
reason (Submitted, Succeeded, NodeStatusAvailable), of the Workflow's reference, a
step that failed, was skipped or carries a reason, and the end are written at once,
with every advance held until then. A
held write is not lost: the reconcile asks to be woken when the interval has
passed (the Workflow's next change wakes it sooner) and writes what the Workflow
shows then. A status this controller did not seal is never held (it is corrected
at once, contract §5).

The interval stretches with the runs this process is mirroring (those it wrote and
that have not ended): `active / ADVANCE_RATE` seconds once that is longer than
`STATUS_INTERVAL`. Steps that take longer than the interval would otherwise each
cost a write however many runs there are; this way a thousand runs moving at once
cost at most about `ADVANCE_RATE` advance writes a second between them (their
phase changes, failures and ends still at once), and a few runs are shown as
promptly as one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from orchapi.vocabulary import RUN_DONE, ConditionStatus, RunPhase, StepPhase

# s: at most one held write per run in this time ($ORCH_STATUS_INTERVAL). 1 s keeps
# what a user watches (a wait that started, a step that runs) prompt; the throughput
# figures of docs/throughput.md were measured at 10 s. Under load the rate below
# stretches it anyway (200 runs moving: 10 s).
STATUS_INTERVAL = 1.0
# Advance writes a second for all runs together (Argo's own client, at its defaults,
# asks the apiserver for at most 20 a second, for everything it does).
ADVANCE_RATE = 20.0
# A step entry whose only changes are these moved along as expected.
_ADVANCE_KEYS = frozenset({"phase", "startedAt", "finishedAt", "attempt", "message"})
_ADVANCE_PHASES = frozenset({StepPhase.PENDING, StepPhase.RUNNING, StepPhase.SUCCEEDED})
_STEP_KEYS = ("stepStatuses", "progress")
_UNCOMPARED = frozenset({*_STEP_KEYS, "seal"})  # the seal changes with every write


def _advanced(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """One step's entry changed (or appeared) only by moving along."""
    if new.get("phase") not in _ADVANCE_PHASES or new.get("reason"):
        return False
    if old is None:
        return True
    changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
    return changed <= _ADVANCE_KEYS


def _unsealed(status: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k != "seal"}


def _settled(status: Mapping[str, Any]) -> dict[str, Any]:
    """What of a status must be written at once when it changes: all but the steps,
    the progress and the seal, and the running summary (a condition's message
    while its status is Unknown)."""
    out = {k: v for k, v in status.items() if k not in _UNCOMPARED}
    if isinstance(out.get("conditions"), list):
        out["conditions"] = [
            {k: v for k, v in c.items() if k != "message"}
            if isinstance(c, Mapping) and c.get("status") == ConditionStatus.UNKNOWN else c
            for c in out["conditions"]]
    return out


def only_advanced(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether status `new` differs from `old` only by steps that started or
    succeeded while the run keeps running (a write that may wait)."""
    if old.get("phase") != RunPhase.RUNNING or new.get("phase") != RunPhase.RUNNING:
        return False
    if _settled(old) != _settled(new):
        return False
    before = {s.get("name"): s for s in old.get("stepStatuses") or ()}
    after = list(new.get("stepStatuses") or ())
    if not before.keys() <= {s.get("name") for s in after}:
        return False  # a step left the list
    return all(_advanced(before.get(s.get("name")), s) for s in after
               if before.get(s.get("name")) != s)


class Pacer:
    """The last time this process wrote each run's status, and how long a write
    that `only_advanced` waits. Keys are dropped once the run ended or is gone."""

    def __init__(self, interval: float = STATUS_INTERVAL, rate: float = ADVANCE_RATE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self.rate, self._clock = interval, rate, clock
        self._last: dict[Hashable, float] = {}

    def current_interval(self) -> float:
        """STATUS_INTERVAL, or longer when more runs are moving than `rate` allows."""
        return max(self.interval, len(self._last) / self.rate)

    def hold(self, key: Hashable, old: Mapping[str, Any], new: Mapping[str, Any]) -> float | None:
        """Seconds to wait before writing `new` over `old`; None: write now."""
        last = self._last.get(key)
        if last is None or _unsealed(old) == _unsealed(new) or not only_advanced(old, new):
            return None  # nothing to write (the executor skips it), or write it now
        left = self.current_interval() - (self._clock() - last)
        return left if left > 0 else None

    def wrote(self, key: Hashable, status: Mapping[str, Any]) -> None:
        if status.get("phase") in RUN_DONE:
            self._last.pop(key, None)
        else:
            self._last[key] = self._clock()

    def forget(self, key: Hashable) -> None:
        self._last.pop(key, None)
