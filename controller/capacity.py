"""How many runs of one namespace may be active at once (contract §6,
`maxActiveRunsPerNamespace`): which runs hold a slot, and which wait for one.

Why: one controller serves every tenant, and a tenant that creates a thousand
runs at once must not take the cluster's Argo, or the controller, from the others
(issue 22). An install may cap the active runs of a namespace; a run past the cap
is not submitted: it waits, `Submitted=False` with reason `ActiveRunLimit`, and
starts when one ends, oldest first (creation time, then name).

A run holds a slot from the moment a worker is about to create its Workflow until
it is seen ended or deleted. Slots are taken under one lock, so workers submitting
at once never pass the cap; the holders are learnt again from the run watch after
a restart (a run with a Workflow that has not ended holds one). When a slot frees,
the oldest waiting run is woken (`wake`), so no waiting run is polled.

A run that would only wait for a slot is told so before anything is read for it
(`waits_for_a_slot_unread`): under a tenant's flood every request to the apiserver
waits its turn, and a waiting run's two live reads were most of what its
reconcile cost the others (issue 22).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from controller.admission import reference_refusal
from controller.decide import Observed
from controller.mapping import Key
from orchapi.vocabulary import RUN_DONE

Order = tuple[str, str]  # (creationTimestamp, name): who waited first


def is_active(run: Mapping[str, Any]) -> bool:
    """Submitted (its Workflow is recorded) and not ended."""
    status = run.get("status") or {}
    return bool(status.get("workflowRef")) and status.get("phase") not in RUN_DONE


def is_over(run: Mapping[str, Any]) -> bool:
    """Ended, or being deleted: it needs no slot any more."""
    status = run.get("status") or {}
    return status.get("phase") in RUN_DONE or bool(
        (run.get("metadata") or {}).get("deletionTimestamp"))


def order_of(run: Mapping[str, Any]) -> Order:
    meta = run.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def limit_message(namespace: str, limit: int) -> str:
    return (f"{limit} runs of namespace {namespace} are active, as many as this install "
            "allows at once (maxActiveRunsPerNamespace); this run starts when one ends")


def is_unsubmitted(o: Observed) -> bool:
    """Nothing the controller sees says the run was submitted, or needs more than
    a submission: no Workflow of its name seen, no workflowRef, not ended,
    cancelled or being deleted (what a slot is for)."""
    status = o.run.get("status") or {}
    return (o.workflow is None and o.last_seen is None and not status.get("workflowRef")
            and status.get("phase") not in RUN_DONE
            and not (o.run.get("spec") or {}).get("cancel")
            and not o.run["metadata"].get("deletionTimestamp"))


def waits_for_a_slot_unread(o: Observed) -> bool:
    """A run not yet submitted that may be told to wait for a slot before anything
    is read for it: nothing the controller holds would refuse it (its reference is
    a name, its Orchestration is in the cache), so it is not kept waiting to hear
    a refusal it would get at once."""
    return is_unsubmitted(o) and o.orchestration is not None and \
        reference_refusal(o.run) is None


class ActiveRuns:
    """Thread-safe: the run watch calls `observe`, the workers `admit`."""

    def __init__(self, limit: int | None, wake: Callable[[Key], None]) -> None:
        self.limit, self.wake = limit, wake
        self._lock = threading.Lock()
        self._holders: dict[str, set[Key]] = {}
        self._waiting: dict[str, dict[Key, Order]] = {}

    def observe(self, key: Key, run: Mapping[str, Any] | None) -> None:
        """A run's current state (None: deleted), from the watch."""
        if self.limit is None:
            return
        with self._lock:
            held = self._holders.setdefault(key.namespace, set())
            waiting = self._waiting.setdefault(key.namespace, {})
            if run is not None and is_active(run):
                held.add(key)
                waiting.pop(key, None)
            elif run is None or is_over(run):
                held.discard(key)
                waiting.pop(key, None)
            woken = self._next_locked(key.namespace)
        for k in woken:
            self.wake(k)

    def admit(self, key: Key, run: Mapping[str, Any]) -> bool:
        """May the run create its Workflow now? True takes (or keeps) its slot;
        False puts it in line."""
        if self.limit is None:
            return True
        with self._lock:
            held = self._holders.setdefault(key.namespace, set())
            waiting = self._waiting.setdefault(key.namespace, {})
            if key in held:
                return True
            mine = order_of(run)
            ahead = sum(1 for k, o in waiting.items() if k != key and o < mine)
            if len(held) + ahead < self.limit:
                held.add(key)
                waiting.pop(key, None)
                return True
            waiting[key] = mine
            return False

    def must_wait(self, key: Key, run: Mapping[str, Any]) -> bool:
        """Whether the run would wait if it asked now (then it is put in line), taking
        no slot when it would not: a worker asks before it reads anything for a run
        not yet submitted, and `admit` still decides at the create."""
        if self.limit is None:
            return False
        with self._lock:
            held = self._holders.setdefault(key.namespace, set())
            if key in held:
                return False
            waiting = self._waiting.setdefault(key.namespace, {})
            mine = order_of(run)
            ahead = sum(1 for k, o in waiting.items() if k != key and o < mine)
            if len(held) + ahead < self.limit:
                return False
            waiting[key] = mine
            return True

    def _next_locked(self, namespace: str) -> list[Key]:
        """The waiting runs that may now take the free slots, oldest first."""
        assert self.limit is not None
        free = self.limit - len(self._holders.get(namespace, ()))
        waiting = self._waiting.get(namespace) or {}
        if free <= 0 or not waiting:
            return []
        return [k for k, _ in sorted(waiting.items(), key=lambda item: item[1])[:free]]

    def counts(self, namespace: str) -> tuple[int, int]:
        """(active, waiting) runs of the namespace."""
        with self._lock:
            return (len(self._holders.get(namespace, ())),
                    len(self._waiting.get(namespace, ())))
