"""The controller beside many retained runs (docs/controller.md has results).

Why: a controller runs for months next to thousands of finished runs that nobody
deletes. Their Workflows (200 steps each) are what a naive cache holds whole, and
what a restart lists again. This benchmark measures, on the real test cluster:

1. load: `--retained` runs of a `--steps`-step Orchestration, each with its
   Workflow written here as the controller would submit it (the compiler's own
   output, owned by the run) but already ended, with an Argo-shaped final status
   (every node with the fields Argo writes); the controller then mirrors each run
   to Succeeded once;
2. restart: the controller is restarted; time from process start to `/readyz`,
   RSS right after the initial list, and the reconciles and requests it spends
   on the retained runs (a settled run must cost no reconcile);
3. further runs: `--further` new runs in batches of `--batch`, submitted by the
   controller, their Workflows driven to the end here (Argo's workflow-controller
   is stopped: one status write with half the steps done, one with all), each
   batch deleted once done, as a TTL would; RSS after each batch, requests and
   reconciles per run.

    python -m benchmarks.controller_retained --retained 1000 --steps 200 --further 1000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.controller_bench import rss_kib
from controller.events import Recorder
from controller.kube import Kube
from controller.reconcile import Caches, Reconciler
from controller.watch import Informer
from orchapi.api import ORCHESTRATIONS, RUNS, WORKFLOWS
from tests.cluster import Cluster, ensure_tools
from tests.cluster.kube import wait_for
from tests.cluster.procs import stop_group
from tests.cluster.tools import share_dir
from tests.e2e.orch_controller import ControllerProcess, orchestration, run, step

Obj = dict[str, Any]
API = "orchestration.proompteng.ai/v1alpha1"
T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T00:05:00Z"


def argo_status(wf: Obj, done: int, phase: str) -> Obj:
    """An Argo-shaped status: the entry DAG node and one Pod node per task, the
    first `done` Succeeded, the rest Running; the fields Argo writes on each."""
    name = wf["metadata"]["name"]
    entry = wf["spec"]["entrypoint"]
    tasks = next(t for t in wf["spec"]["templates"] if t["name"] == entry)["dag"]["tasks"]
    nodes: dict[str, Obj] = {name: {
        "id": name, "name": name, "displayName": name, "type": "DAG", "templateName": entry,
        "templateScope": f"local/{name}", "phase": phase, "startedAt": T0,
        "children": [f"{name}-{1000000000 + i}" for i in range(min(1, len(tasks)))]}}
    for i, task in enumerate(tasks):
        node_id = f"{name}-{1000000000 + i}"
        node: Obj = {
            "id": node_id, "name": f"{name}.{task['name']}", "displayName": task["name"],
            "type": "Pod", "templateName": task.get("template", ""),
            "templateScope": f"local/{name}", "boundaryID": name, "startedAt": T0,
            "hostNodeName": "kwok-node-0", "progress": "1/1",
            "phase": "Succeeded" if i < done else "Running",
            "children": [f"{name}-{1000000000 + i + 1}"] if i + 1 < len(tasks) else [],
        }
        if i < done:
            node.update({"finishedAt": T1, "outputs": {"exitCode": "0"},
                         "resourcesDuration": {"cpu": 1, "memory": 1}})
        nodes[node_id] = node
    status: Obj = {"phase": phase, "startedAt": T0, "nodes": nodes,
                   "progress": f"{done}/{len(tasks)}"}
    if phase == "Succeeded":
        status["finishedAt"] = T1
    return status


def create_retained(cluster: Cluster, kube: Kube, names: list[str]) -> None:
    """Runs, and for each its ended Workflow as the controller would have made it."""
    ns = cluster.namespace
    def nothing(_ns: str, _name: str) -> Obj | None:
        return None
    reconciler = Reconciler(kube, Caches(orchestration=nothing, run=nothing, workflow=nothing),
                            Recorder(kube))
    orch = kube.get(ORCHESTRATIONS, ns, "bench")
    assert orch is not None

    def one(name: str) -> None:
        r = cluster.kube.apply(run(name, "bench"), ns)
        submission = reconciler.submission(orch, r)
        assert submission.workflow is not None, submission
        wf = submission.workflow
        wf["status"] = argo_status(wf, 10**6, "Succeeded")
        kube.custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", ns,
                                                    "workflows", wf)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, names))


class FakeArgo:
    """Drives every Workflow the controller creates to Succeeded in two writes."""

    def __init__(self, kube: Kube, ns: str) -> None:
        self.kube, self.ns = kube, ns
        self.pool = ThreadPoolExecutor(4)
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        self.informer = Informer(kube, WORKFLOWS, ns, self.on_event)

    def on_event(self, kind: str, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        if kind != "ADDED" or (obj.get("status") or {}).get("phase"):
            return
        with self.lock:
            if name in self.seen:
                return
            self.seen.add(name)
        self.pool.submit(self.drive, name)

    def drive(self, name: str) -> None:
        for done, phase in ((100, "Running"), (10**6, "Succeeded")):
            for _ in range(10):
                wf = self.kube.get(WORKFLOWS, self.ns, name)
                if wf is None:
                    return
                half = min(done, len(wf["spec"]["templates"]) // 2) if phase == "Running" \
                    else done
                wf["status"] = argo_status(wf, half, phase)
                try:
                    self.kube.custom.replace_namespaced_custom_object(
                        "argoproj.io", "v1alpha1", self.ns, "workflows", name, wf)
                    break
                except Exception:
                    time.sleep(0.1)

    def start(self) -> FakeArgo:
        threading.Thread(target=self.informer.run, daemon=True).start()
        self.informer.synced.wait(60)
        return self

    def stop(self) -> None:
        self.informer.stop()
        self.pool.shutdown(wait=False)


def settled(kube: Kube, ns: str, names: set[str]) -> bool:
    done = 0
    for page, _ in kube.list_pages(RUNS, ns, limit=100):
        done += sum(1 for r in page if r["metadata"]["name"] in names
                    and (r.get("status") or {}).get("phase") == "Succeeded")
    return done == len(names)


def collected(cluster: Cluster, prefix: str) -> bool:
    return not any(w["metadata"]["name"].startswith(prefix) for w in cluster.kube.list_objects(
        "argoproj.io/v1alpha1", "Workflow", cluster.namespace))


def counters(ctl: ControllerProcess) -> tuple[float, float]:
    return (ctl.metric("controller_runtime_reconcile_total"),
            ctl.metric("rest_client_requests_total"))


def controller(cluster: Cluster, work: Path, identity: str, workers: int) -> ControllerProcess:
    ns = cluster.namespace
    return ControllerProcess(cluster.kubeconfig, ns, work, identity, ns, extra=[
        "--no-leader-elect", "--workers", str(workers), "--log-level", "warning"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--retained", type=int, default=1000)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--further", type=int, default=1000)
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--workers", type=int, default=4)
    args = p.parse_args(argv)
    bin_dir = ensure_tools(build=False)
    cluster = Cluster(bin_dir, share_dir(bin_dir))
    cluster.install_exit_handlers()
    work = Path(tempfile.mkdtemp(prefix="orch-bench-retained-"))
    out: dict[str, Any] = {"retained": args.retained, "steps": args.steps}

    def emit(what: str, **values: Any) -> None:
        print(json.dumps({"phase": what, **values}), flush=True)

    try:
        cluster.start()
        ns = cluster.namespace
        argo = next(pr for pr in cluster.sup.procs if pr.name == "workflow-controller")
        stop_group(argo.popen.pid, 5, argo.popen.wait)  # this benchmark plays Argo
        cluster.sup.procs.remove(argo)
        kube = Kube(cluster.api_client, request_timeout=120)
        # One container shared by every step (Argo allows 200 templates): a
        # sequential chain of `--steps` tasks.
        cluster.kube.apply(orchestration("bench", [
            step(f"s{i}", command=["sh", "-c", "echo step"]) for i in range(args.steps)]), ns)
        empty = controller(cluster, work, "empty", args.workers).start()
        empty.wait_ready(60)
        time.sleep(2)
        out["rss_mib_no_runs"] = round(rss_kib(empty.popen.pid) / 1024, 1) \
            if empty.popen else None
        empty.terminate()
        names = [f"kept-{i}" for i in range(args.retained)]
        t = time.monotonic()
        create_retained(cluster, kube, names)
        emit("created", runs=len(names), seconds=round(time.monotonic() - t, 1))

        first = controller(cluster, work, "load", args.workers).start()
        first.wait_ready(300)
        wait_for(lambda: settled(kube, ns, set(names)), "every retained run mirrored", 900, 2)
        emit("loaded", rss_mib=round(rss_kib(first.popen.pid) / 1024, 1)
             if first.popen else None)
        first.terminate()

        ctl = controller(cluster, work, "restarted", args.workers)
        t = time.monotonic()
        ctl.start().wait_ready(300)
        ready_s = time.monotonic() - t
        assert ctl.popen is not None
        rss_ready = rss_kib(ctl.popen.pid) / 1024
        time.sleep(5)  # anything the restart would reconcile, it has by now
        reconciles, requests = counters(ctl)
        out.update(ready_s=round(ready_s, 2), rss_mib_after_list=round(rss_ready, 1),
                   rss_mib_5s_later=round(rss_kib(ctl.popen.pid) / 1024, 1),
                   reconciles_after_restart=reconciles, requests_after_restart=requests)
        emit("restarted", **out)

        fake = FakeArgo(kube, ns).start()
        batches = []
        for b in range(args.further // args.batch):
            batch = [f"new-{b}-{i}" for i in range(args.batch)]
            r0, q0 = counters(ctl)
            t = time.monotonic()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda n: cluster.kube.apply(run(n, "bench"), ns), batch))
            wait_for(partial(settled, kube, ns, set(batch)), "the batch", 900, 1)
            took = time.monotonic() - t
            time.sleep(2)
            r1, q1 = counters(ctl)
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda n: cluster.kube.delete(API, "OrchestrationRun", n, ns),
                              batch))
            wait_for(partial(collected, cluster, f"new-{b}-"),
                     "the batch's Workflows collected", 300, 1)
            time.sleep(2)
            r2, q2 = counters(ctl)
            row = {"batch": b, "runs": len(batch), "seconds_to_all_succeeded": round(took, 1),
                   "reconciles_per_run": round((r1 - r0) / len(batch), 2),
                   "requests_per_run": round((q1 - q0) / len(batch), 2),
                   "reconciles_per_run_deleting": round((r2 - r1) / len(batch), 2),
                   "requests_per_run_deleting": round((q2 - q1) / len(batch), 2),
                   "rss_mib": round(rss_kib(ctl.popen.pid) / 1024, 1)}
            batches.append(row)
            emit("batch", **row)
        fake.stop()
        ctl.terminate()
        out["batches"] = batches
        emit("summary", **out)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
