"""The elector's renewal is bounded by the renew deadline: a Lease API that stops
answering ends the leadership at the deadline, long before another replica could
see the Lease expire. (The real-cluster test hangs the TCP connection itself:
tests/e2e/test_controller_hangs.py; here the Lease API is an in-memory stand-in
that honours the timeout it is given, as the HTTP client does.)"""

from __future__ import annotations

import threading
import time
from typing import Any

from controller.election import LeaderElector

Obj = dict[str, Any]


class LeaseApi:
    """One Lease in memory; `hang` makes every call block for its whole timeout."""

    def __init__(self) -> None:
        self.lease: Obj | None = None
        self.hang = threading.Event()
        self.timeouts: list[float] = []
        self.last_success = 0.0

    def _maybe_hang(self, timeout: float) -> None:
        self.timeouts.append(timeout)
        if self.hang.is_set():
            time.sleep(timeout)
            raise TimeoutError("read timed out")

    def get_lease(self, namespace: str, name: str, timeout: float) -> Obj | None:
        self._maybe_hang(timeout)
        return None if self.lease is None else {**self.lease, "spec": dict(self.lease["spec"])}

    def create_lease(self, namespace: str, body: Obj, timeout: float) -> Obj:
        self._maybe_hang(timeout)
        self.lease = body
        self.last_success = time.monotonic()
        return body

    def replace_lease(self, namespace: str, name: str, body: Obj, timeout: float) -> Obj:
        self._maybe_hang(timeout)
        self.lease = body
        self.last_success = time.monotonic()
        return body


def test_a_hung_renewal_ends_leadership_at_the_renew_deadline() -> None:
    api = LeaseApi()
    elector = LeaderElector(api, "ns", "lease", "me", lease_duration=3.0,  # type: ignore[arg-type]
                            renew_deadline=0.5, retry_period=0.1)
    started, stopped = threading.Event(), threading.Event()
    stop = threading.Event()
    t = threading.Thread(target=elector.run, args=(stop, started.set, stopped.set), daemon=True)
    t.start()
    try:
        assert started.wait(5)
        time.sleep(0.3)  # a few renewals
        api.hang.set()
        assert stopped.wait(5)
        lost_after = time.monotonic() - api.last_success
        assert not elector.is_leader
        # Another replica may take the Lease `lease_duration` after it last changed.
        assert lost_after < 3.0, f"still leading {lost_after:.2f}s after the last renewal"
        assert max(api.timeouts) <= 0.5 + 1e-6  # no call may outlive the deadline
    finally:
        stop.set()
        t.join(5)
