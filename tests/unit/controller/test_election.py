"""The elector's renewal is bounded by the renew deadline: a Lease API that stops
answering ends the leadership at the deadline, long before another replica could
see the Lease expire. (The real-cluster test hangs the TCP connection itself:
tests/e2e/test_controller_hangs.py; here the Lease API is an in-memory stand-in
that honours the timeout it is given, as the HTTP client does.)

Time is a fake clock: a wait on the stop event and a hung call each move it by
what they would have taken, so the elector runs in this thread, with no sleep."""

from __future__ import annotations

from controller.election import LeaderElector
from orchapi.api import Obj


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Stop:
    """The elector's stop event: `wait(t)` passes `t` on the clock, as the real
    wait would, unless the event is set."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.set_ = clock, False

    def is_set(self) -> bool:
        return self.set_

    def set(self) -> None:
        self.set_ = True

    def wait(self, timeout: float) -> bool:
        if not self.set_:
            self.clock.now += timeout
        return self.set_


class LeaseApi:
    """One Lease in memory. After `answers` successful writes every call hangs for
    its whole timeout (the clock moves by it), then fails as the client would."""

    def __init__(self, clock: Clock, answers: int) -> None:
        self.clock, self.answers = clock, answers
        self.lease: Obj | None = None
        self.timeouts: list[float] = []
        self.last_success = 0.0

    def _call(self, timeout: float) -> None:
        self.timeouts.append(timeout)
        if self.answers <= 0:
            self.clock.now += timeout
            raise TimeoutError("read timed out")

    def _wrote(self, body: Obj) -> Obj:
        self.lease, self.last_success = body, self.clock.now
        self.answers -= 1
        return body

    def get_lease(self, namespace: str, name: str, timeout: float) -> Obj | None:
        self._call(timeout)
        return None if self.lease is None else {**self.lease, "spec": dict(self.lease["spec"])}

    def create_lease(self, namespace: str, body: Obj, timeout: float) -> Obj:
        self._call(timeout)
        return self._wrote(body)

    def replace_lease(self, namespace: str, name: str, body: Obj, timeout: float) -> Obj:
        self._call(timeout)
        return self._wrote(body)


def test_a_hung_renewal_ends_leadership_at_the_renew_deadline() -> None:
    clock = Clock()
    api = LeaseApi(clock, answers=4)  # acquire, three renewals, then a hung apiserver
    elector = LeaderElector(api, "ns", "lease", "me", lease_duration=3.0,  # type: ignore[arg-type]
                            renew_deadline=0.5, retry_period=0.1, clock=clock)
    stop = Stop(clock)
    events: list[tuple[str, float]] = []

    def stopped() -> None:
        events.append(("stopped", clock.now))
        stop.set()

    elector.run(stop, lambda: events.append(("started", clock.now)), stopped)  # type: ignore[arg-type]
    assert [e for e, _ in events] == ["started", "stopped"]
    assert not elector.is_leader
    lost_after = events[1][1] - api.last_success
    # Stopped leading when the renew deadline ran out, counted from the last
    # renewal: before another replica may take the Lease (lease_duration after it
    # last changed), and no call outlived the deadline.
    assert lost_after <= 0.5 + 1e-9, lost_after
    assert lost_after < 3.0
    assert max(api.timeouts) <= 0.5 + 1e-9
    assert api.answers == 0  # the three renewals did happen
