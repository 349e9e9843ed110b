"""What parsing a JSON text will cost in Python, known before parsing it, and one
gate that keeps a process's costly parses from adding up.

Why: a controller that serves many tenants parses what they write (every object
it lists, watches or reads, every compressed node status it decodes), and JSON
grows up to 25-30x as Python objects: an Orchestration of 1.3 MB whose unknown
key holds 440,000 empty objects is 35 MiB once parsed (issue 22). One such parse
is affordable; eight workers and ten watches holding them at once are not. So a
parse first estimates its cost from the text (`estimated_cost`, a bound from byte
counts, one C pass each) and takes it from `GATE` until the objects are let go:
small parses pass at once; large ones wait until what is held leaves room, and one
larger than the whole budget runs alone. The peak of the process is then bounded
by the budget, not by how many large objects arrive together.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def estimated_cost(text: bytes) -> int:
    """An upper bound of the memory `json.loads(text)` takes, in bytes, from counts
    of the text's bytes. Measured with tracemalloc on CPython 3.11 for each shape
    that costs most per byte (empty objects and lists, one-key objects, unique keys,
    unique and non-ASCII strings, numbers) and for Argo node maps; it is 1.0-3.3x
    the measured peak for those shapes and about 2.3x for real node JSON
    (`tests/unit/compiler/test_compressed.py` checks it stays above, and a
    hypothesis property for any JSON)."""
    size = len(text)
    chars = size if text.isascii() else 4 * size  # json decodes to str first, then parses
    return (4096 + 2 * chars + 192 * text.count(b"{") + 96 * text.count(b"[")
            + 28 * text.count(b'"') + 48 * text.count(b":") + 36 * (text.count(b",") + 1))


class CostGate:
    """A semaphore counted in bytes of estimated cost. A thread takes cost for a
    parse and gives it back once the objects parsed are let go: at the end of a
    `reserve` block, or, for what it `hold`s, at `release_held` (a worker after
    its reconcile, a watch after the event or page). Taking blocks while the cost
    does not fit beside what others hold, unless nothing is held (so one parse
    larger than the capacity still runs, alone). A thread that already holds cost
    never blocks (it would wait for itself, or two threads for each other); it
    reads a handful of objects per reconcile. Costs up to `free_below` are not
    counted: a small object never waits."""

    def __init__(self, capacity: int, free_below: int) -> None:
        self.capacity, self.free_below = capacity, free_below
        self._used = 0
        self._cond = threading.Condition()
        self._local = threading.local()
        self._tickets = itertools.count(1)

    def _mine(self) -> dict[int, int]:
        held: dict[int, int] | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = {}
        return held

    def take(self, cost: int) -> int:
        """Take `cost` (blocking as above); returns a ticket for `give` (0 when the
        cost is small and nothing was counted)."""
        if cost <= self.free_below:
            return 0
        mine = self._mine()
        with self._cond:
            while not mine and self._used and self._used + cost > self.capacity:
                self._cond.wait()
            self._used += cost
            ticket = next(self._tickets)
        mine[ticket] = cost
        return ticket

    def give(self, ticket: int) -> None:
        """Give back what `ticket` took; nothing when it was given back already (by
        `release_held`) or counted nothing."""
        cost = self._mine().pop(ticket, 0) if ticket else 0
        if cost:
            with self._cond:
                self._used -= cost
                self._cond.notify_all()

    def release_held(self) -> None:
        """Give back everything this thread holds."""
        mine = self._mine()
        cost = sum(mine.values())
        mine.clear()
        if cost:
            with self._cond:
                self._used -= cost
                self._cond.notify_all()

    @contextmanager
    def reserve(self, cost: int) -> Iterator[None]:
        ticket = self.take(cost)
        try:
            yield
        finally:
            self.give(ticket)

    @property
    def used(self) -> int:
        with self._cond:
            return self._used


# The process's gate: 64 MiB of estimated cost held at once (the estimate is 1-3x
# the real cost), parses under 1 MiB free. A 1.5 MiB object of the worst shape is
# estimated at about 100 MiB and so is parsed, and held, alone.
GATE = CostGate(capacity=64 * 1024 * 1024, free_below=1024 * 1024)


def loads(text: bytes | str, gate: CostGate = GATE, hold: bool = False) -> Any:
    """`json.loads`, after taking its estimated cost from `gate`; given back when
    it returns, or with `hold`, at the thread's `release_held`."""
    data = text.encode() if isinstance(text, str) else text
    if hold:
        gate.take(estimated_cost(data))
        return json.loads(data)
    with gate.reserve(estimated_cost(data)):
        return json.loads(data)
