"""The work queue's guarantees: dedupe, per-key serialization, backoff, delays."""

from __future__ import annotations

import threading
import time

from controller.metrics import Metrics
from controller.queue import WorkQueue


def test_dedupes_waiting_keys() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    for _ in range(5):
        q.add("a")
    q.add("b")
    assert len(q) == 2
    assert q.get(0) == "a"
    assert q.get(0) == "b"
    assert q.get(0) is None


def test_key_in_processing_is_not_handed_out_twice_but_runs_again_after() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    q.add("a")
    assert q.get(0) == "a"
    q.add("a")  # changed while being processed
    assert q.get(0) is None  # not to a second worker
    q.done("a")
    assert q.get(0) == "a"  # once more, afterwards
    q.done("a")
    assert q.get(0) is None


def test_rate_limited_backoff_grows_and_forget_resets() -> None:
    q: WorkQueue[str] = WorkQueue("t", base_delay=0.01, max_delay=0.05)
    delays = [q.add_rate_limited("a") for _ in range(5)]
    assert delays == [0.01, 0.02, 0.04, 0.05, 0.05]
    assert q.num_requeues("a") == 5
    q.forget("a")
    assert q.num_requeues("a") == 0
    assert q.add_rate_limited("a") == 0.01


def test_add_after_delivers_once_due() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    start = time.monotonic()
    q.add_after("a", 0.1)
    assert q.get(0.01) is None
    assert q.get(1.0) == "a"
    assert time.monotonic() - start >= 0.1


def test_shutdown_wakes_blocked_getters_and_depth_metric() -> None:
    m = Metrics()
    q: WorkQueue[str] = WorkQueue("t", m)
    q.add("a")
    q.add("b")
    assert b'workqueue_depth{name="t"} 2.0' in m.render()
    got: list[str | None] = []
    q.get(0)
    q.get(0)
    t = threading.Thread(target=lambda: got.append(q.get()))
    t.start()
    q.shutdown()
    t.join(2)
    assert got == [None]
    assert b'workqueue_adds_total{name="t"} 2.0' in m.render()
