"""Controller benchmark on the real test cluster (docs/controller.md has results).

Why observed from outside: every latency here is measured by this process's own
watches (the same informer the controller uses), so both ends of an interval are
stamped by one clock and pay the same watch-delivery cost:
- Workflow creation: run ADDED (seen) -> its Workflow ADDED (seen); and the wall
  time from the first submission to the last Workflow.
- Mirror latency: the first Workflow version whose nodes put k steps done (by the
  controller's own `mirror_workflow`) -> the first run version showing >= k done.
- Requests per run: the controller's `rest_client_requests_total` delta per batch
  (leader election off, so every request is for the runs) / runs.
- Memory: the controller's RSS after each batch of completed runs (deleted
  between batches, as a TTL would), over `--batches` x `--runs` runs.

    python -m benchmarks.controller_bench --runs 200 --steps 10 --batches 1
    python -m benchmarks.controller_bench --runs 200 --steps 10 --batches 5 --kind Checkpoint
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from controller.kube import Kube
from controller.mirror import mirror_workflow
from controller.watch import Informer
from orchapi.api import RUNS, WORKFLOWS
from tests.cluster import Cluster, ensure_tools
from tests.cluster.kube import wait_for
from tests.cluster.tools import share_dir
from tests.e2e.orch_controller import ControllerProcess, orchestration, run, step

Obj = dict[str, Any]


class Observer:
    """Timestamps of what this process sees of runs and Workflows."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.run_seen: dict[str, float] = {}
        self.wf_seen: dict[str, float] = {}
        self.wf_done_at: dict[str, dict[int, float]] = defaultdict(dict)
        self.run_done_at: dict[str, dict[int, float]] = defaultdict(dict)
        self.finished: set[str] = set()

    def on_run(self, kind: str, obj: Obj) -> None:
        now = time.monotonic()
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        with self.lock:
            if kind == "ADDED":
                self.run_seen.setdefault(name, now)
            progress = status.get("progress")
            if progress:
                k = int(progress.split("/")[0])
                for i in range(k + 1):
                    self.run_done_at[name].setdefault(i, now)
            if status.get("phase") in ("Succeeded", "Failed"):
                self.finished.add(name)

    def on_workflow(self, kind: str, obj: Obj) -> None:
        now = time.monotonic()
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            return
        try:
            k = int(mirror_workflow(obj, {}, "x").progress.split("/")[0])
        except Exception:
            return
        with self.lock:
            self.wf_seen.setdefault(name, now)
            for i in range(1, k + 1):
                self.wf_done_at[name].setdefault(i, now)

    def reset(self) -> None:
        with self.lock:
            self.__init__()  # type: ignore[misc]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], q: float) -> float:
    """The nearest-rank quantile q (0..1) of `values`; NaN when there are none."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def batch(cluster: Cluster, ctl: ControllerProcess, obs: Observer, n: int, steps: int,
          index: int, timeout: float, kind: str) -> dict[str, Any]:
    ns = cluster.namespace
    names = [f"bench-{index}-{i}" for i in range(n)]
    before = ctl.metric("rest_client_requests_total")
    kube = cluster.kube
    t0 = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda name: kube.apply(run(name, "bench"), ns), names))
    submitted = time.monotonic() - t0
    wait_for(lambda: all(nm in obs.wf_seen for nm in names), "every Workflow", 120, 0.05)
    created_all = max(obs.wf_seen[nm] for nm in names) - t0
    create_lat = [obs.wf_seen[nm] - obs.run_seen.get(nm, t0) for nm in names]
    wait_for(lambda: all(nm in obs.finished for nm in names), "every run finished", timeout, 0.2)
    time.sleep(1.0)  # let the last status writes land in the count
    requests = ctl.metric("rest_client_requests_total") - before
    mirror_lat = [obs.run_done_at[nm][k] - t for nm in names
                  for k, t in obs.wf_done_at[nm].items() if k in obs.run_done_at[nm]]
    missing = sum(1 for nm in names for k in obs.wf_done_at[nm] if k not in obs.run_done_at[nm])
    # Clean up as a TTL would; wait until the controller's caches let go.
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda nm: kube.delete(
            "orchestration.proompteng.ai/v1alpha1", "OrchestrationRun", nm, ns), names))
    wait_for(lambda: not kube.list_objects("argoproj.io/v1alpha1", "Workflow", ns),
             "Workflows garbage-collected", 120, 0.5)
    time.sleep(2.0)
    assert ctl.popen is not None
    return {
        "batch": index, "runs": n, "steps": steps, "kind": kind,
        "submit_s": round(submitted, 2),
        "all_workflows_created_s": round(created_all, 2),
        "create_latency_p50_s": round(pct(create_lat, 0.5), 3),
        "create_latency_max_s": round(max(create_lat), 3),
        "mirror_p50_s": round(pct(mirror_lat, 0.5), 3),
        "mirror_p99_s": round(pct(mirror_lat, 0.99), 3),
        "mirror_samples": len(mirror_lat), "mirror_unseen": missing,
        "requests_per_run": round(requests / n, 1),
        "rss_mib_after": round(rss_kib(ctl.popen.pid) / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batches", type=int, default=5)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--kind", choices=("Container", "Checkpoint"), default="Container",
                   help="Container: every step a kwok pod (realistic, Argo-bound); "
                        "Checkpoint: no pods, so the controller is the bottleneck")
    args = p.parse_args(argv)
    bin_dir = ensure_tools(build=False)
    cluster = Cluster(bin_dir, share_dir(bin_dir))
    cluster.install_exit_handlers()
    work = Path(tempfile.mkdtemp(prefix="orch-bench-"))
    results: list[dict[str, Any]] = []
    try:
        cluster.start()
        ns = cluster.namespace
        steps = [step(f"s{i}") if args.kind == "Container" else {"name": f"s{i}",
                 "kind": "Checkpoint"} for i in range(args.steps)]
        cluster.kube.apply(orchestration("bench", steps), ns)
        ctl = ControllerProcess(cluster.kubeconfig, ns, work, "bench", ns, extra=[
            "--no-leader-elect", "--workers", str(args.workers), "--log-level", "warning"])
        ctl.start().wait_ready()
        obs = Observer()
        kube = Kube(cluster.api_client)
        informers = [Informer(kube, RUNS, ns, obs.on_run), Informer(kube, WORKFLOWS, ns,
                                                                     obs.on_workflow)]
        for inf in informers:
            threading.Thread(target=inf.run, daemon=True).start()
            inf.synced.wait(10)
        rss0 = round(rss_kib(ctl.popen.pid) / 1024, 1) if ctl.popen else 0.0
        print(json.dumps({"rss_mib_idle": rss0}), flush=True)
        for i in range(args.batches):
            obs.reset()
            result = batch(cluster, ctl, obs, args.runs, args.steps, i, args.timeout,
                           args.kind)
            results.append(result)
            print(json.dumps(result), flush=True)
        for inf in informers:
            inf.stop()
        ctl.terminate()
        summary = {
            "rss_mib_idle": rss0,
            "rss_mib_per_batch": [r["rss_mib_after"] for r in results],
            "worst_all_workflows_created_s": max(r["all_workflows_created_s"] for r in results),
            "median_mirror_p50_s": statistics.median(r["mirror_p50_s"] for r in results),
            "worst_mirror_p99_s": max(r["mirror_p99_s"] for r in results),
            "requests_per_run": statistics.median(r["requests_per_run"] for r in results),
        }
        print(json.dumps({"summary": summary}), flush=True)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
