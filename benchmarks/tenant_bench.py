"""One controller, a hostile tenant (issue 22), on the real test cluster: what the
controller's memory and a victim's submission latency are while a tenant does its
worst in its own namespace. The README's numbers come from here.

    python -m benchmarks.tenant_bench memory          # 10 objects of each kind at the size limit
    python -m benchmarks.tenant_bench flood --runs 1000 [--max-active N]

- memory: the tenant (issue 22's Role, plus Workflows) creates ten objects of each
  kind it may create, each at the apiserver's size limit, of the costliest shape
  (tests/e2e/test_tenant_memory.py); then the controller starts (under the chart's
  RBAC) and a victim's run is submitted; then ten runs of the heavy Orchestration.
  Reported: the controller's peak RSS (VmHWM) after start and at the end, its RSS,
  and whether a 256 MiB limit would have been passed.
- flood: the tenant creates `--runs` runs of a 200-step Orchestration whose first
  step waits on a signal (so every run waits, active), 16 at a time; meanwhile a
  victim, a process of its own (not a thread beside the tenant's sixteen, whose
  Python would hold it up), creates a one-step run every 2 s. Reported: each
  victim's submission latency (the victim's apply of its run -> its Workflow exists,
  seen by polling every 10 ms; the apply itself included), and where it went: the
  apply (the apiserver's answer), the controller's part (the apply answered -> the
  controller's log says "workflow created", one clock), the rest (the poll seeing
  it); the tenant's Workflows by then, and the controller's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from multiprocessing.synchronize import Event
from pathlib import Path

from benchmarks.controller_bench import pct
from tests.cluster import Cluster, ensure_tools
from tests.cluster.kube import Kube, api_client
from tests.cluster.tools import share_dir
from tests.e2e.orch_controller import API, WF_API, leading_controller, orchestration, run
from tests.e2e.tenancy import MemoryLimit, make_tenant, workflow_namespace
from tests.e2e.test_tenant_attacks import CHECKPOINT
from tests.e2e.test_tenant_memory import fill

MIB = 1024 * 1024


def memory(cluster: Cluster, work: Path) -> dict[str, object]:
    import tests.e2e.test_tenant_memory as mem

    mem.COUNT = 10
    tenant = make_tenant(cluster, workflow_namespace(cluster, "bench-mem"), work,
                         account="argo-user", edits_workflows=True)
    victim = workflow_namespace(cluster, "bench-mem-victim")
    t0 = time.monotonic()
    sizes = fill(tenant)
    created = time.monotonic() - t0
    cluster.kube.apply(orchestration("victim", CHECKPOINT), victim)
    start = time.monotonic()
    with leading_controller(cluster, work, "bench-mem", ready_timeout=300,
                            namespaces=[tenant.namespace, victim]) as proc:
        assert proc.popen is not None
        ready = time.monotonic() - start
        limit = MemoryLimit(proc.popen.pid, limit=10 * 1024 * MIB)  # measure, never kill
        cluster.kube.apply(run("v-1", "victim"), victim)
        wait_done(cluster, victim, "v-1")
        after_start, rss_start = limit.peak, limit.rss()
        for i in range(10):
            tenant.kube.apply(run(f"heavy-{i}", "orchestration-0"), tenant.namespace)
        cluster.kube.apply(run("v-2", "victim"), victim)
        wait_done(cluster, victim, "v-2")
        time.sleep(5)  # let the heavy runs' submissions finish
        peak, rss = limit.stop(), limit.rss()
    return {"objects": {k: 10 for k in sizes}, "bytes_each": sizes,
            "created_s": round(created, 1), "ready_s": round(ready, 1),
            "peak_mib_after_start": round(after_start / MIB, 1),
            "rss_mib_after_start": round(rss_start / MIB, 1),
            "peak_mib": round(peak / MIB, 1), "rss_mib": round(rss / MIB, 1),
            "under_256_mib": peak < 256 * MIB}


def wait_done(cluster: Cluster, namespace: str, name: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obj = cluster.kube.get(API, "OrchestrationRun", name, namespace) or {}
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{namespace}/{name} did not end")


def flood(cluster: Cluster, work: Path, runs: int, max_active: int | None
          ) -> dict[str, object]:
    tenant = make_tenant(cluster, workflow_namespace(cluster, "bench-flood"), work)
    victim = workflow_namespace(cluster, "bench-flood-victim")
    steps = [{"name": "wait", "kind": "SignalWait", "signalRef": {"name": "never"}}] + [
        {"name": f"s{i}", "kind": "Checkpoint", "dependsOn": ["wait"]} for i in range(199)]
    env = {"ORCH_MAX_ACTIVE_RUNS_PER_NAMESPACE": str(max_active)} if max_active else {}
    with leading_controller(cluster, work, "bench-flood", env=env,
                            namespaces=[tenant.namespace, victim]) as proc:
        assert proc.popen is not None
        limit = MemoryLimit(proc.popen.pid, limit=10 * 1024 * MIB)
        idle = limit.rss()
        tenant.kube.apply(orchestration("wide", steps), tenant.namespace)
        cluster.kube.apply(orchestration("victim", CHECKPOINT), victim)
        spawn = multiprocessing.get_context("spawn")
        done, results = spawn.Event(), spawn.Queue()
        watcher = spawn.Process(target=victims, daemon=True, args=(
            str(cluster.kubeconfig), victim, tenant.namespace, done, results))
        watcher.start()
        cpu0 = cpu_seconds(proc.popen.pid)
        t0 = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: tenant.kube.apply(run(f"f-{i}", "wide"),
                                                      tenant.namespace), range(runs)))
        created = time.monotonic() - t0
        expected = min(runs, max_active or runs)
        while sum(1 for _ in cluster.kube.list_objects(
                WF_API, "Workflow", tenant.namespace)) < expected:
            time.sleep(1)
        all_submitted = time.monotonic() - t0
        cpu = cpu_seconds(proc.popen.pid) - cpu0
        time.sleep(4)
        done.set()
        rows: list[dict[str, float | int | str]] = results.get(timeout=120)
        watcher.join(60)
        peak, rss = limit.stop(), limit.rss()
    created_at = workflows_created(proc.log)
    lat = [float(r["seen"]) - float(r["start"]) for r in rows]
    applies = [float(r["applied"]) - float(r["start"]) for r in rows]
    mine = [created_at[str(r["name"])] - float(r["applied"]) for r in rows
            if str(r["name"]) in created_at]
    return {"tenant_runs": runs, "max_active": max_active, "created_s": round(created, 1),
            "tenant_workflows_s": round(all_submitted, 1),
            # the controller's CPU until the tenant's Workflows were all created: a
            # share of one core (its Python runs on one at a time)
            "controller_cpu_share": round(cpu / all_submitted, 2),
            "victim_latency_s": spread(lat), "victim_apply_s": spread(applies),
            "victim_controller_s": spread(mine),
            # latency, its apply, its controller part, tenant Workflows then
            "victims": [[round(a, 3), round(b, 3),
                         round(created_at.get(str(r["name"]), 0) - float(r["applied"]), 3),
                         r["tenant_workflows"]] for a, b, r in zip(lat, applies, rows,
                                                                   strict=True)],
            "rss_mib_idle": round(idle / MIB, 1), "peak_mib": round(peak / MIB, 1),
            "rss_mib": round(rss / MIB, 1), "under_256_mib": peak < 256 * MIB}


def victims(kubeconfig: str, victim: str, tenant: str, done: Event,
            results: multiprocessing.Queue[list[dict[str, float | int | str]]]) -> None:
    """The victim (a process of its own): a one-step run every 2 s until `done`,
    each timed from its apply to its Workflow seen (wall clock, for the log)."""
    kube = Kube(api_client(Path(kubeconfig)))
    kube.resource(WF_API, "Workflow")  # discovery before the first timing
    kube.resource(API, "OrchestrationRun")
    rows: list[dict[str, float | int | str]] = []
    i = 0
    while not done.is_set():
        name = f"v-{i}"
        start = time.time()
        kube.apply(run(name, "victim"), victim)
        applied = time.time()
        while kube.get(WF_API, "Workflow", name, victim) is None:
            time.sleep(0.01)
        seen = time.time()
        rows.append({"name": name, "start": start, "applied": applied, "seen": seen,
                     "tenant_workflows": len(kube.list_objects(WF_API, "Workflow", tenant))})
        i += 1
        done.wait(2)
    results.put(rows)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workflows_created(log: Path) -> dict[str, float]:
    """Run name -> when the controller's log says it created its Workflow."""
    out: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "workflow created":
            name = str(entry.get("run", "")).rpartition("/")[2]
            out.setdefault(name, datetime.fromisoformat(entry["ts"]).timestamp())
    return out


def spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(statistics.median(values), 3),
            "p90": round(pct(values, 0.9), 3), "max": round(max(values), 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tenant_bench")
    p.add_argument("what", choices=("memory", "flood"))
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--max-active", type=int, default=None)
    args = p.parse_args(argv)
    bin_dir = ensure_tools()
    cluster = Cluster(bin_dir, share_dir(bin_dir))
    cluster.install_exit_handlers()
    cluster.start()
    try:
        with tempfile.TemporaryDirectory(prefix="orch-tenant-bench-") as tmp:
            result = (memory(cluster, Path(tmp)) if args.what == "memory"
                      else flood(cluster, Path(tmp), args.runs, args.max_active))
    finally:
        cluster.stop()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
