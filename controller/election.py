"""Leader election on a coordination.k8s.io Lease, as client-go's leaderelection.

Why: two replicas reconciling the same run could both decide to act; only the
holder of the Lease runs workers. Expiry is judged on this process's monotonic
clock from when the Lease record was last seen to change (client-go's
`observedTime`), never by comparing another machine's timestamps with ours, so
clock skew cannot hand the Lease to two holders. A holder that cannot renew
within `renew_deadline` stops leading (its workers pause and its writes are
fenced: `controller.kube`) and stands for the Lease again, so an apiserver restart is survived
without a process restart. On a graceful shutdown the caller releases the Lease
once its workers have stopped, so a successor takes over at once but never
while a reconcile of ours is still in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from controller.kube import AlreadyExistsError, ApiError, ConflictError, Kube
from controller.metrics import Metrics

log = logging.getLogger("orch.election")


def micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, kube: Kube, namespace: str, name: str, identity: str,
                 lease_duration: float = 15.0, renew_deadline: float = 10.0,
                 retry_period: float = 2.0, metrics: Metrics | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kube, self.namespace, self.name, self.identity = kube, namespace, name, identity
        self.lease_duration, self.renew_deadline = lease_duration, renew_deadline
        self.retry_period, self.metrics, self.clock = retry_period, metrics, clock
        self.is_leader = False
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0

    def run(self, stop: threading.Event, on_started: Callable[[], None],
            on_stopped: Callable[[], None]) -> None:
        """Until `stop`: acquire, then lead while renewing. Each renewal, and every
        request in it, is bounded by what is left of `renew_deadline` since the last
        success (client-go runs its renew loop under a context with that deadline),
        so a renewal that hangs ends the leadership at the deadline, before another
        replica can see the Lease expire (`lease_duration` after it last changed).
        Then stand again. `stop` ends the loop and leaves the Lease held: the caller
        releases it once its workers have finished."""
        while not stop.is_set():
            if not self._try_acquire_or_renew(self.renew_deadline):
                stop.wait(self.retry_period)
                continue
            last_renew = self.clock()
            self._set_leader(True)
            log.info("became leader", extra={"lease": f"{self.namespace}/{self.name}",
                                             "identity": self.identity})
            on_started()
            while True:
                deadline = last_renew + self.renew_deadline
                if stop.wait(min(self.retry_period, max(0.0, deadline - self.clock()))):
                    return
                attempt = self.clock()
                if attempt < deadline and self._try_acquire_or_renew(deadline - attempt):
                    last_renew = attempt  # others count from no earlier than this
                    continue
                if self.clock() >= deadline:
                    self._set_leader(False)
                    log.error("could not renew the Lease within the renew deadline; "
                              "stopped leading, standing again",
                              extra={"lease": f"{self.namespace}/{self.name}",
                                     "renew_deadline": self.renew_deadline})
                    on_stopped()
                    break

    def _set_leader(self, value: bool) -> None:
        self.is_leader = value
        if self.metrics:
            self.metrics.leader.labels(self.name).set(1 if value else 0)

    def _try_acquire_or_renew(self, budget: float) -> bool:
        """One attempt, all of it within `budget` seconds."""
        end = self.clock() + budget

        def left() -> float:
            remaining = end - self.clock()
            if remaining <= 0:
                raise TimeoutError("renew deadline reached")
            return remaining

        now = micro_time()
        try:
            lease = self.kube.get_lease(self.namespace, self.name, left())
            if lease is None:
                self.kube.create_lease(self.namespace, {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": {"holderIdentity": self.identity,
                             "leaseDurationSeconds": max(1, round(self.lease_duration)),
                             "acquireTime": now, "renewTime": now, "leaseTransitions": 0}},
                    left())
                return True
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity") or ""
            record = (holder, spec.get("renewTime"), spec.get("leaseDurationSeconds"))
            if record != self._observed:
                self._observed, self._observed_at = record, self.clock()
            duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
            expired = self._observed_at + duration < self.clock()
            if holder and holder != self.identity and not expired:
                return False
            new_spec = {**spec, "holderIdentity": self.identity, "renewTime": now,
                        "leaseDurationSeconds": max(1, round(self.lease_duration))}
            if holder != self.identity:
                new_spec["acquireTime"] = now
                new_spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            self.kube.replace_lease(self.namespace, self.name, {**lease, "spec": new_spec},
                                    left())
            self._observed = (self.identity, now, new_spec["leaseDurationSeconds"])
            self._observed_at = self.clock()
            return True
        except (AlreadyExistsError, ConflictError):
            return False
        except (ApiError, OSError) as e:
            log.warning("lease request failed", extra={"error": str(e)})
            return False
        except Exception as e:  # urllib3 errors and timeouts while the apiserver is away
            log.warning("lease request failed", extra={"error": repr(e)})
            return False

    def release(self, timeout: float = 5.0) -> None:
        """Give the Lease up (holder emptied, 1 s duration) so a successor need not
        wait for it to expire."""
        if not self.is_leader:
            return
        try:
            lease = self.kube.get_lease(self.namespace, self.name, timeout)
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                now = micro_time()
                spec = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1,
                        "renewTime": now, "acquireTime": now}
                self.kube.replace_lease(self.namespace, self.name, {**lease, "spec": spec},
                                        timeout)
                log.info("released the lease", extra={"lease": f"{self.namespace}/{self.name}"})
        except Exception as e:
            log.warning("could not release the lease", extra={"error": repr(e)})
        self._set_leader(False)
