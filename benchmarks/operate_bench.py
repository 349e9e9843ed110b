"""`orch get` and `orch watch` on the real test cluster (README has results).

- `orch get` of a 200-step run, whole process, cold (contract §7: a fresh process
  after one untimed run, median of several): a real run of 200 Container steps,
  executed by the controller (subprocess), Argo and kwok, so the Workflow, its
  200 pods and the run's status are what a user's cluster holds.
- `orch watch`: the time from the start of a status write (this process PUTs the
  run's status, as the controller does) to the moment the changed step's new
  phase is on `orch watch`'s screen: read from a pipe (one line per change) and
  from a terminal (a pty; the redrawn frame), 100 changes each, p50/p99/max.
- `orch cancel` of a running run (a step held running by kwok) to the run's
  phase `Cancelled`, the `orch cancel` process and the controller included
  (issue 13's target; the e2e test asserts what it ends as, not how soon).

    python -m benchmarks.operate_bench [--changes 100] [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import platform
import pty
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from benchmarks.controller_bench import pct
from tests.cluster import Cluster, ensure_tools
from tests.cluster.kube import wait_for
from tests.cluster.tools import share_dir
from tests.e2e.orch_controller import API, ControllerProcess, orchestration, run, step

Obj = dict[str, Any]
ORCH = str(Path(sys.executable).parent / "orch")
PLURAL = "orchestrationruns"
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def bench_get(cluster: Cluster, work: Path, runs: int) -> tuple[float, list[float]]:
    ns = cluster.namespace
    names = [f"s{i:03d}" for i in range(200)]
    # 20 chains of 10; one shared container template (200 distinct ones would pass
    # Argo's 200-template limit).
    steps = [step(n, [names[i - 1]] if i % 10 else [], command=["sh", "-c", "echo hi"])
             for i, n in enumerate(names)]
    cluster.kube.apply(orchestration("bench-get", steps), ns)
    ctl = ControllerProcess(cluster.kubeconfig, ns, work, "bench", ns,
                            extra=["--no-leader-elect"]).start()
    try:
        ctl.wait_ready()
        cluster.kube.apply(run("bench-get-1", "bench-get"), ns)
        def ended() -> Obj | None:
            obj = cluster.kube.get(API, "OrchestrationRun", "bench-get-1", ns) or {}
            status: Obj = obj.get("status") or {}
            return status if status.get("phase") in ("Succeeded", "Failed") else None
        status = wait_for(ended, "the 200-step run to end", 900, 1.0)
        assert status["phase"] == "Succeeded", status.get("conditions")
    finally:
        ctl.stop()
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    cmd = [ORCH, "get", "bench-get-1", "-n", ns]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert first.stdout.count("pod/") == 200, first.stdout[-2000:]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def bench_cancel(cluster: Cluster, work: Path, runs: int) -> list[float]:
    ns = cluster.namespace
    failures = cluster.failures()
    failures.hold_steps("bench-cancel", ["slow"])
    cluster.kube.apply(orchestration("bench-cancel", [step("slow", [])]), ns)
    ctl = ControllerProcess(cluster.kubeconfig, ns, work, "bench-cancel", ns,
                            extra=["--no-leader-elect"]).start()
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    times = []
    try:
        ctl.wait_ready()
        for i in range(runs):
            name = f"bench-cancel-{i}"
            cluster.kube.apply(run(name, "bench-cancel"), ns)

            def phase(want: str, step_phase: str | None = None, name: str = name) -> bool:
                obj = cluster.kube.get(API, "OrchestrationRun", name, ns) or {}
                status: Obj = obj.get("status") or {}
                steps = {s["name"]: s["phase"] for s in status.get("stepStatuses") or ()}
                return status.get("phase") == want and (
                    step_phase is None or steps.get("slow") == step_phase)
            wait_for(lambda: phase("Running", "Running"), f"{name}'s step running", 120, 0.1)
            start = time.perf_counter()
            subprocess.run([ORCH, "cancel", name, "-n", ns], env=env, capture_output=True,
                           check=True)
            wait_for(lambda: phase("Cancelled"), f"{name} Cancelled", 60, 0.02)
            times.append(time.perf_counter() - start)
    finally:
        ctl.stop()
        failures.clear()
    return times


def _put_status(cluster: Cluster, obj: Obj) -> Obj:
    from kubernetes import client

    meta = obj["metadata"]
    api = client.CustomObjectsApi(cluster.api_client)
    return cast(Obj, api.replace_namespaced_custom_object_status(
        "orchestration.proompteng.ai", "v1alpha1", meta["namespace"], PLURAL, meta["name"], obj))


def bench_watch(cluster: Cluster, changes: int, terminal: bool) -> list[float]:
    """Latency of `changes` step phase changes, each on a different step."""
    ns = cluster.namespace
    name = f"bench-watch-{'tty' if terminal else 'pipe'}"
    names = [f"w{i:03d}" for i in range(200)]
    cluster.kube.apply(orchestration("bench-watch", [step(n, []) for n in names]), ns)
    obj = cluster.kube.apply(run(name, "bench-watch"), ns)
    obj["status"] = {"phase": "Running", "progress": f"0/{len(names)}",
                     "stepStatuses": [{"name": n, "kind": "Container", "phase": "Pending",
                                       "message": "waiting"} for n in names]}
    obj = _put_status(cluster, obj)
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "COLUMNS": "160",
           "LINES": "60"}
    argv = [ORCH, "watch", name, "-n", ns]
    if terminal:
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(ORCH, argv, env)
        reader_fd = fd
    else:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        reader_fd = proc.stdout.fileno()
    buffer = b""

    def wait_until(pattern: re.Pattern[bytes], deadline: float) -> float:
        nonlocal buffer
        while True:
            if pattern.search(_ANSI.sub(b"", buffer)):  # the phase cell is coloured
                buffer = b""
                return time.perf_counter()
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"never saw {pattern.pattern!r}")
            ready, _, _ = select.select([reader_fd], [], [], left)
            if ready:
                buffer += os.read(reader_fd, 65536)

    wait_until(re.compile(rb"run|Running"), time.perf_counter() + 30)  # first view drawn
    time.sleep(0.5)
    latencies = []
    try:
        for i in range(changes):
            # One step at a time starts; the one before it ends (so the step to look
            # for is always on the terminal's frame, which shows the running steps).
            target, previous = names[i % len(names)], names[(i - 1) % len(names)]
            for s in obj["status"]["stepStatuses"]:
                if s["name"] == target:
                    s.update(phase="Running", startedAt="2026-01-01T00:00:00Z",
                             message="running")
                elif s["name"] == previous and i:
                    s.update(phase="Succeeded", finishedAt="2026-01-01T00:00:01Z",
                             message="succeeded")
            buffer = b""
            start = time.perf_counter()
            obj = _put_status(cluster, obj)
            seen = wait_until(re.compile(re.escape(target.encode()) + rb"\s+(\S+\s+)?Running"),
                              start + 10)
            latencies.append(seen - start)
            time.sleep(0.05)
    finally:
        if terminal:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        else:
            proc.kill()
            proc.wait()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    bin_dir = ensure_tools()
    cluster = Cluster(bin_dir, share_dir(bin_dir))
    cluster.install_exit_handlers()
    work = Path(tempfile.mkdtemp(prefix="orch-operate-bench-"))
    try:
        cluster.start()
        print(f"machine: {platform.node()} {os.cpu_count()} cores, Python "
              f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}")
        median, times = bench_get(cluster, work, args.runs)
        print(f"orch get, 200-step run, cold, whole process: median {median:.3f} s "
              f"(min {min(times):.3f}, max {max(times):.3f}, {len(times)} runs; target <= 0.5 s)")
        for terminal in (False, True):
            lat = bench_watch(cluster, args.changes, terminal)
            print(f"orch watch ({'terminal' if terminal else 'pipe'}), status write -> on "
                  f"screen, {len(lat)} changes: p50 {statistics.median(lat) * 1000:.0f} ms, "
                  f"p99 {pct(lat, 0.99) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms "
                  "(target p99 <= 1 s)")
        cancels = bench_cancel(cluster, work, args.runs)
        print(f"orch cancel -> Cancelled, whole process and controller: median "
              f"{statistics.median(cancels):.2f} s (min {min(cancels):.2f}, max "
              f"{max(cancels):.2f}, {len(cancels)} runs; target <= 5 s)")
        print(f"load after: {os.getloadavg()[0]:.1f}")
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
