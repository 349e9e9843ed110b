"""Signal waits at scale on the real test cluster (README has the results).

N runs, each with one SignalWait on its own signal, wait; then:
- idle: for `--idle` seconds nothing happens; the controller's CPU time (from
  /proc) and its API requests (its `rest_client_requests_total`, and the
  apiserver's audit log for its ServiceAccount) over that window, per minute: no
  polling means next to none;
- release: all N SignalDeliveries are created at once (16 threads); the time from
  the first create to each wait's step seen `Succeeded` on its run (this process's
  own watch, so one clock), reported as p50, p99 and max.

    python -m benchmarks.waits_bench --runs 200 --idle 60
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.controller_bench import pct
from controller.kube import Kube
from controller.watch import Informer
from orchapi.api import RUNS
from tests.chart import rbac
from tests.cluster import Cluster, ensure_tools
from tests.cluster.kube import wait_for
from tests.cluster.tools import share_dir
from tests.e2e.orch_controller import (
    CHART_NAMESPACE,
    CHART_SA,
    ControllerProcess,
    orchestration,
    run,
    service_account_kubeconfig,
)

Obj = dict[str, Any]
SIGNALS_API = "signals.proompteng.ai/v1alpha1"


class Observer:
    """When this process first sees each run waiting, and its wait released."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: dict[str, float] = {}
        self.released: dict[str, float] = {}

    def on_run(self, _kind: str, obj: Obj) -> None:
        now = time.monotonic()
        name = obj["metadata"]["name"]
        for s in (obj.get("status") or {}).get("stepStatuses") or ():
            if s.get("name") != "wait":
                continue
            with self.lock:
                if s.get("phase") == "Running":
                    self.waiting.setdefault(name, now)
                elif s.get("phase") == "Succeeded":
                    self.released.setdefault(name, now)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    import os
    return ticks / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--idle", type=float, default=60.0)
    p.add_argument("--workers", type=int, default=8)
    args = p.parse_args(argv)
    bin_dir = ensure_tools(build=False)
    cluster = Cluster(bin_dir, share_dir(bin_dir))
    cluster.install_exit_handlers()
    work = Path(tempfile.mkdtemp(prefix="orch-waits-bench-"))
    try:
        cluster.start()
        ns, kube = cluster.namespace, cluster.kube
        names = [f"wait-{i}" for i in range(args.runs)]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda n: kube.apply(orchestration(n, [
                {"name": "wait", "kind": "SignalWait", "signalRef": {"name": f"signal-{n}"}}]),
                ns), names))
        # As in a real install: the chart's rules, a ServiceAccount the audit log names.
        kubeconfig = service_account_kubeconfig(cluster, [ns], ns, "orch-bench-waits",
                                                work / "sa-kubeconfig")
        user = rbac.username(CHART_NAMESPACE, CHART_SA)
        ctl = ControllerProcess(kubeconfig, ns, work, "bench", ns, "orch-bench-waits", extra=[
            "--no-leader-elect", "--workers", str(args.workers), "--log-level", "warning"])
        ctl.start().wait_ready()
        assert ctl.popen is not None
        obs = Observer()
        informer = Informer(Kube(cluster.api_client), RUNS, ns, obs.on_run)
        threading.Thread(target=informer.run, daemon=True).start()
        informer.synced.wait(10)
        t0 = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda n: kube.apply(run(n, n), ns), names))
        wait_for(lambda: len(obs.waiting) == len(names), "every run waiting", 600, 0.2)
        all_waiting = time.monotonic() - t0
        time.sleep(5)  # the last status writes and their echoes settle

        requests0, cpu0 = ctl.metric("rest_client_requests_total"), cpu_seconds(ctl.popen.pid)
        audited0, idle0 = len(rbac.observed(cluster.audit_log, user)), time.monotonic()
        time.sleep(args.idle)
        minutes = (time.monotonic() - idle0) / 60
        idle = {
            "idle_s": round(args.idle, 1),
            "cpu_s_per_min": round((cpu_seconds(ctl.popen.pid) - cpu0) / minutes, 3),
            "controller_requests_per_min": round(
                (ctl.metric("rest_client_requests_total") - requests0) / minutes, 1),
            "audited_requests_per_min": round(
                (len(rbac.observed(cluster.audit_log, user)) - audited0) / minutes, 1),
        }

        t1 = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda n: kube.apply({
                "apiVersion": SIGNALS_API, "kind": "SignalDelivery",
                "metadata": {"name": f"delivery-{n}"},
                "spec": {"signalRef": {"name": f"signal-{n}"}}}, ns), names))
        created = time.monotonic() - t1
        wait_for(lambda: len(obs.released) == len(names), "every wait released", 300, 0.05)
        latency = [obs.released[n] - t1 for n in names]
        informer.stop()
        ctl.terminate()
        print(json.dumps({
            "runs": args.runs, "all_waiting_s": round(all_waiting, 1), **idle,
            "deliveries_created_s": round(created, 2),
            "released_p50_s": round(pct(latency, 0.5), 2),
            "released_p99_s": round(pct(latency, 0.99), 2),
            "released_max_s": round(max(latency), 2),
        }), flush=True)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
