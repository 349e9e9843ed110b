"""A rate-limited work queue with client-go's guarantees.

Why not `queue.Queue`: a controller needs (1) dedupe: a key added ten times
while waiting is processed once; (2) per-key serialization: a key being processed
is never handed to a second worker, and an add meanwhile makes it run once more
afterwards; (3) per-key exponential backoff on failure (`add_rate_limited`),
reset by `forget` on success; (4) delayed adds. This is client-go's
`workqueue.RateLimitingInterface`, over one lock and one condition variable.

Delayed adds keep one waiting entry per key, the earliest (client-go's delaying
queue): a key requeued after 30 s by twenty events is reconciled once, not twenty
times. Time comes from an injectable clock, so the tests drive it by hand.

Fair across shards (the controller's: namespaces): with `shard`, each shard has
its own FIFO and `get` takes from the shards in turn, so one tenant's backlog of
a thousand runs delays another namespace's first reconcile by at most one key per
busy namespace, not by the backlog (issue 22; client-go's queue is one FIFO).

Turns order the keys, not the workers: when every worker is busy with one
tenant's reconciles (each a few calls to an apiserver that tenant keeps busy), a
victim's key is next in line and still waits for one of them to finish. So with
`workers` (the number of consumers), the last idle worker is never given to the
shard running the most keys: a lone busy shard runs on at most `workers - 1` at
once, and another namespace's key is taken at once, also while that namespace has
a reconcile of its own running (the controller starts one worker more than its
`--workers`, so a lone namespace keeps that many).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar, cast

from controller.metrics import Metrics

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self, name: str, metrics: Metrics | None = None,
                 base_delay: float = 0.005, max_delay: float = 300.0,
                 clock: Callable[[], float] = time.monotonic,
                 shard: Callable[[K], Hashable] | None = None,
                 workers: int | None = None) -> None:
        self.name = name
        self.base_delay, self.max_delay = base_delay, max_delay
        self._metrics = metrics
        self._clock = clock
        self._cond = threading.Condition()
        self._shard = shard or cast(Callable[[K], Hashable], lambda _key: None)
        self._queues: dict[Hashable, deque[K]] = {}  # shard -> its FIFO of ready keys
        self._turns: deque[Hashable] = deque()  # shards with ready keys, whose turn is next
        self._ready = 0
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._workers = workers  # consumers; None: no worker is kept for idle shards
        self._busy: dict[Hashable, int] = {}  # shard -> its keys in processing
        self._added_at: dict[K, float] = {}
        self._waiting: list[tuple[float, int, K]] = []  # (due, seq, key) heap
        self._due: dict[K, float] = {}  # key -> its one waiting entry's due time
        self._seq = itertools.count()
        self._failures: dict[K, int] = {}
        self._shutdown = False

    # -- adding ------------------------------------------------------------------
    def add(self, key: K) -> None:
        with self._cond:
            self._add_locked(key)

    def _add_locked(self, key: K) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        self._added_at.setdefault(key, self._clock())
        if self._metrics:
            self._metrics.adds.labels(self.name).inc()
        if key not in self._processing:
            self._push(key)
        self._cond.notify()

    def _push(self, key: K) -> None:
        shard = self._shard(key)
        fifo = self._queues.get(shard)
        if fifo is None:
            fifo = self._queues[shard] = deque()
            self._turns.append(shard)
        fifo.append(key)
        self._ready += 1
        self._set_depth()

    def _pop(self) -> K | None:
        """The next key in turn that an idle worker may take (None: none may). The
        last idle worker is not for the shard (or shards) running the most keys."""
        last_worker = self._workers is not None and \
            len(self._processing) >= self._workers - 1
        most = max(self._busy.values(), default=0) if last_worker else 0
        for _ in range(len(self._turns)):
            shard = self._turns.popleft()
            if most and self._busy.get(shard, 0) >= most:
                self._turns.append(shard)  # kept for a shard running fewer
                continue
            fifo = self._queues[shard]
            key = fifo.popleft()
            if fifo:
                self._turns.append(shard)  # its next key waits for the others' turns
            else:
                del self._queues[shard]
            self._ready -= 1
            return key
        return None

    def add_after(self, key: K, delay: float) -> None:
        """Add once `delay` has passed; a key already waiting keeps the earlier time."""
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutdown:
                return
            due = self._clock() + delay
            if self._due.get(key, due + 1) <= due:
                return  # an earlier (or equal) entry is already waiting
            self._due[key] = due
            heapq.heappush(self._waiting, (due, next(self._seq), key))
            self._cond.notify()

    def add_rate_limited(self, key: K, base_delay: float | None = None) -> float:
        """Re-add after this key's backoff: base * 2^failures, capped. Returns the delay.
        `base_delay` overrides the queue's for this call (a refused Workflow create
        backs off from seconds, an error from milliseconds)."""
        with self._cond:
            n = self._failures.get(key, 0)
            self._failures[key] = n + 1
        base = self.base_delay if base_delay is None else base_delay
        delay = min(base * 2.0 ** n, self.max_delay)
        if self._metrics:
            self._metrics.retries.labels(self.name).inc()
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    # -- taking ------------------------------------------------------------------
    def get(self, timeout: float | None = None) -> K | None:
        """The next key (now being processed), or None on shutdown or timeout."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                self._promote_due()
                key = self._pop() if self._ready else None
                if key is not None:
                    self._processing.add(key)
                    shard = self._shard(key)
                    self._busy[shard] = self._busy.get(shard, 0) + 1
                    self._dirty.discard(key)
                    added = self._added_at.pop(key, None)
                    if self._metrics and added is not None:
                        self._metrics.queue_duration.labels(self.name).observe(
                            self._clock() - added)
                    self._set_depth()
                    return key
                if self._shutdown:
                    return None
                now = self._clock()
                wait = None if deadline is None else deadline - now
                if wait is not None and wait <= 0:
                    return None
                if self._waiting:
                    due = self._waiting[0][0] - now
                    wait = due if wait is None else min(wait, due)
                self._cond.wait(wait)

    def _promote_due(self) -> None:
        now = self._clock()
        while self._waiting and self._waiting[0][0] <= now:
            due, _, key = heapq.heappop(self._waiting)
            if self._due.get(key) != due:
                continue  # superseded by an earlier entry for the key
            del self._due[key]
            self._add_locked(key)

    def done(self, key: K) -> None:
        with self._cond:
            if key in self._processing:
                self._processing.discard(key)
                shard = self._shard(key)
                left = self._busy.pop(shard, 1) - 1
                if left:
                    self._busy[shard] = left
                if self._workers is not None:
                    # A worker is free: one kept for idle shards may now take any key.
                    self._cond.notify_all()
            if key in self._dirty:
                self._push(key)
                self._cond.notify()

    # -- state -------------------------------------------------------------------
    def __len__(self) -> int:
        with self._cond:
            return self._ready

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    @property
    def is_shutting_down(self) -> bool:
        return self._shutdown

    def _set_depth(self) -> None:
        if self._metrics:
            self._metrics.depth.labels(self.name).set(self._ready)
