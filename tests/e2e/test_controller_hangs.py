"""Hung connections, made by a real TCP proxy between the controller and the
apiserver (tests/cluster/tcpproxy.py): connections that stay open and carry
nothing, the failure that hangs a client for good.

- Every connection the controller has open freezes: its watches and pooled
  connections time out, new ones are opened, and every run is still reconciled.
- Nothing gets through at all: `/healthz` fails within the health window (and
  passes again once the apiserver is reachable).
- A Lease renewal hangs: the replica stops leading before another replica can
  take the Lease.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from orchapi.api import Obj
from tests.cluster import Cluster
from tests.cluster.kube import wait_for
from tests.cluster.tcpproxy import TcpProxy, proxied_kubeconfig
from tests.e2e.orch_controller import ControllerProcess, orchestration, run, run_done, wait_run

pytestmark = pytest.mark.e2e

# Short on purpose: each is what the test waits for.
FAST = ["--request-timeout", "2", "--watch-idle-timeout", "3", "--health-window", "8"]


@pytest.fixture
def proxy(cluster: Cluster) -> Iterator[TcpProxy]:
    url = urlparse(cluster.api_url)
    p = TcpProxy(url.hostname or "127.0.0.1", url.port or 443).start()
    yield p
    p.close()


@pytest.fixture
def controllers() -> Iterator[list[ControllerProcess]]:
    started: list[ControllerProcess] = []
    yield started
    for proc in started:
        proc.stop()


def checkpoints(name: str, n: int) -> Obj:
    """Steps that run no pod (a zero-length suspend): only the controllers work."""
    return orchestration(name, [{"name": f"s{i}", "kind": "Checkpoint"} for i in range(n)])


def succeeded(cluster: Cluster, names: list[str], timeout: float) -> None:
    for name in names:
        done = wait_run(cluster, name, run_done, "finished", timeout)
        assert done["status"]["phase"] == "Succeeded", (name, done["status"])


def test_hung_connections_do_not_stop_reconciliation_and_fail_healthz(
        cluster: Cluster, tmp_path: Path, proxy: TcpProxy,
        controllers: list[ControllerProcess]) -> None:
    ns = cluster.namespace
    kubeconfig = proxied_kubeconfig(cluster.kubeconfig, proxy, tmp_path / "proxied")
    proc = ControllerProcess(kubeconfig, ns, tmp_path, "hang-1", ns, "orch-e2e-hang",
                             extra=["--no-leader-elect", "--workers", "2", *FAST]).start()
    controllers.append(proc)
    proc.wait_ready()
    cluster.kube.apply(checkpoints("h-hang", 2), ns)
    cluster.kube.apply(run("h-hang-0", "h-hang"), ns)
    succeeded(cluster, ["h-hang-0"], 60)

    # Every connection open now (3 watches, the pooled ones) carries nothing more.
    assert proxy.freeze_existing() >= 3
    names = [f"h-hang-{i}" for i in range(1, 5)]
    for name in names:
        cluster.kube.apply(run(name, "h-hang"), ns)
    succeeded(cluster, names, 90)  # idle watches re-opened, hung calls timed out
    assert proc.get("/healthz")[0] == 200
    assert proc.metric("orch_watch_restarts_total") >= 3

    # Nothing gets through at all: the probe says so within the health window.
    proxy.stall()
    t0 = time.monotonic()
    wait_for(lambda: proc.get("/healthz")[0] == 503, "/healthz to fail", 8 + 30, 0.2)
    print(f"/healthz failed {time.monotonic() - t0:.1f}s after the apiserver became "
          "unreachable (health window 8s)")
    assert proc.popen is not None and proc.popen.poll() is None, proc.tail()
    proxy.resume()
    wait_for(lambda: proc.get("/healthz")[0] == 200, "/healthz to pass again", 30, 0.2)
    cluster.kube.apply(run("h-hang-5", "h-hang"), ns)
    succeeded(cluster, ["h-hang-5"], 60)


def test_a_hung_lease_renewal_stops_leading_before_another_replica_can(
        cluster: Cluster, tmp_path: Path, proxy: TcpProxy,
        controllers: list[ControllerProcess]) -> None:
    ns, lease = cluster.namespace, "orch-e2e-hanglease"
    timing = ["--lease-duration", "8", "--renew-deadline", "3", "--retry-period", "0.5", *FAST]
    hung = ControllerProcess(proxied_kubeconfig(cluster.kubeconfig, proxy, tmp_path / "p"),
                             ns, tmp_path, "lease-hung", ns, lease, extra=timing).start()
    controllers.append(hung)
    hung.wait_ready()
    wait_for(hung.is_leader, "the first replica to lead", 20, 0.1)
    other = ControllerProcess(cluster.kubeconfig, ns, tmp_path, "lease-other", ns, lease,
                              extra=timing).start()
    controllers.append(other)
    other.wait_ready()
    assert not other.is_leader()

    proxy.stall()  # the leader's renewals (and everything else it sends) hang
    stalled = time.monotonic()
    hung_stopped: float | None = None
    other_started: float | None = None
    deadline = stalled + 40
    while time.monotonic() < deadline and other_started is None:
        now = time.monotonic()
        if hung_stopped is None and not hung.is_leader():
            hung_stopped = now
        if other.is_leader():
            other_started = now
        time.sleep(0.05)
    assert other_started is not None, "the other replica never took the Lease"
    assert hung_stopped is not None and hung_stopped < other_started, (
        f"the hung replica still led when the other took over "
        f"({other_started - stalled:.1f}s after the stall)\n{hung.tail()}")
    print(f"hung replica stopped leading {hung_stopped - stalled:.1f}s after the stall, "
          f"the other led {other_started - stalled:.1f}s after it")
    cluster.kube.apply(checkpoints("h-lease", 1), ns)
    cluster.kube.apply(run("h-lease-1", "h-lease"), ns)
    succeeded(cluster, ["h-lease-1"], 60)
