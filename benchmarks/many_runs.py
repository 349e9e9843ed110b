"""Many runs: N runs through orch against the same N Workflows straight in Argo.

Contract §7 ("Many runs"), issue #19 item 5. On one test cluster (real apiserver,
etcd, Argo v4.0.5's workflow-controller, kwok completing each pod 200 ms after it
runs), in one process, phase after phase:

- `argo`: the N Workflows `orch compile` makes of N OrchestrationRuns of a
  `--steps`-step chain, created straight in Argo;
- `orch`: N OrchestrationRuns of that Orchestration, which the controller (started
  as tests/e2e/orch_controller.py starts it, authenticated as a ServiceAccount
  with the chart's rules) submits and mirrors.

Each phase starts from an empty namespace and a freshly started workflow-controller
(the previous phase's pods and Argo's queues cannot weigh on it) and measures,
from the first create: the time until this process's watch has seen every object
ended (the runs' phase; the Workflows' phase label); the CPU of the
workflow-controller and of the orch controller (`/proc/PID/stat`, until 5 s after
the end); the controller's requests (its `rest_client_requests_total` by method,
the apiserver's audit log by verb and resource) and every request the apiserver
served (`apiserver_request_total`, all clients), per run. Each orch phase is
paired with the nearest argo phase for the ratio orch/argo.

    python -m benchmarks.many_runs --runs 200                      # Argo as every test runs it
    python -m benchmarks.many_runs --runs 1000 --argo fast --order argo,orch,orch,argo
    python -m benchmarks.many_runs --runs 200 --argo fast \
        --variant "quiet:config:nodeEvents=enabled: false" \
        --order argo@default,argo@quiet,argo,orch,orch,argo    # Argo's settings compared too
    ORCH_BENCH_PROFILE=py-spy python -m benchmarks.many_runs --runs 200 --order orch

ORCH_BENCH_PROFILE=py-spy[:RATE] samples the controller's thread holding the GIL
(its CPU, not its waits) with py-spy (from this venv; `pip install py-spy`) during
each orch phase (its files and top functions
are printed; `python -m benchmarks.profile_top FILE` ranks them again). The
profiler costs CPU on the same cores: take times from runs without it.
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from benchmarks import probes
from benchmarks.profile_top import report as profile_report
from tests.cluster import Cluster, ensure_tools
from tests.cluster import argo as argo_cluster
from tests.cluster.kube import wait_for
from tests.cluster.tools import share_dir
from tests.e2e.orch_controller import (
    CHART_NAMESPACE,
    CHART_SA,
    ControllerProcess,
    orchestration,
    run,
    service_account_kubeconfig,
    step,
)

Obj = dict[str, Any]
GROUP, VERSION = "orchestration.proompteng.ai", "v1alpha1"
ORCH = "bench"
SETTLE = 5.0  # seconds after the last end that still count (the last events, writes)
SETTINGS = {"default": argo_cluster.DEFAULT, "fast": argo_cluster.FAST}
PROFILE_ENV = "ORCH_BENCH_PROFILE"


def with_overrides(settings: argo_cluster.ArgoSettings,
                   overrides: list[str]) -> argo_cluster.ArgoSettings:
    """`FIELD=VALUE` (workflow_workers=32, qps=500, requeue_time=2s, ...),
    `env:NAME=VALUE` (the workflow-controller's environment) and
    `config:KEY=VALUE` (a ConfigMap key) applied to `settings`."""
    types = {f.name: f.type for f in fields(settings)}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--argo-set {item}: KEY=VALUE")
        if key.startswith(("env:", "config:")):
            where, name = key.split(":", 1)
            if where == "config" and ": " in value and not value.endswith("\n"):
                value += "\n"  # a mapping: Argo indents a value only when it has a newline
            merged = {**getattr(settings, where), name: value}
            settings = (replace(settings, env=merged) if where == "env"
                        else replace(settings, config=merged))
        elif key in types:
            kind: type = {"int": int, "float": float}.get(str(types[key]), str)
            settings = replace(settings, **{key: kind(value)})
        else:
            raise SystemExit(f"--argo-set {item}: no such setting ({', '.join(types)})")
    return settings


def chain(steps: int) -> Obj:
    """The Orchestration: `steps` Container steps, each after the one before."""
    return orchestration(ORCH, [step(f"s{i}", [f"s{i - 1}"] if i else None)
                                for i in range(steps)])


def compiled(orch: Obj, names: list[str], ns: str, work: Path) -> dict[str, Obj]:
    """`orch compile` of the Orchestration and one OrchestrationRun per name: the
    Workflows the controller submits for those runs, but for its ownerReference
    and annotations (what Argo does not read)."""
    docs = [{**orch, "metadata": {**orch["metadata"], "namespace": ns}}]
    docs += [{**run(n, ORCH), "metadata": {"name": n, "namespace": ns}} for n in names]
    source = work / "runs.yaml"
    source.write_text(yaml.safe_dump_all(docs))
    orch_cli = Path(sys.executable).parent / "orch"
    out = subprocess.run([str(orch_cli), "compile", str(source)], check=True,
                         capture_output=True, text=True).stdout
    workflows = [d for d in yaml.load_all(out, Loader=yaml.CSafeLoader) if d]
    return {w["metadata"]["name"]: w for w in workflows}


def _unread(response: Any) -> None:
    """Close an answer whose body is not wanted (urllib3's, `_preload_content=False`):
    its connection is dropped, never put back with the body unread."""
    response.close()


@dataclass
class Snapshot:
    at: float
    argo_cpu: float
    controller_cpu: float
    controller_requests: probes.Tally
    apiserver: probes.Tally
    audit_offset: int
    components: dict[str, float]  # CPU seconds of each process of the cluster
    machine: tuple[float, float]  # (busy, total) CPU seconds of the machine


@dataclass
class Phase:
    kind: str
    runs: int
    argo: str = ""  # the name of Argo's settings in this phase
    created_s: float = 0.0
    all_ended_s: float = 0.0
    end_latency_p50_s: float = 0.0
    end_latency_max_s: float = 0.0
    workflows_ended_s: float = 0.0  # orch: the last of the runs' Workflows ended
    argo_cpu_s: float = 0.0
    controller_cpu_s: float = 0.0
    argo_cpu_to_end_s: float = 0.0
    controller_cpu_to_end_s: float = 0.0
    controller_requests: dict[str, float] = field(default_factory=dict)
    audit: dict[str, int] = field(default_factory=dict)
    apiserver: dict[str, float] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)
    components_cpu_s: dict[str, float] = field(default_factory=dict)
    machine_busy: float = 0.0  # of the machine's cores, busy share during the phase
    controller_rss_mib: float = 0.0
    argo_rss_mib: float = 0.0
    profile: str = ""

    def summary(self) -> dict[str, Any]:
        n = self.runs
        out: dict[str, Any] = {
            "phase": self.kind, "argo": self.argo, "runs": n, "created_s": round(self.created_s, 1),
            "all_ended_s": round(self.all_ended_s, 1),
            "per_min": round(60 * n / self.all_ended_s, 1) if self.all_ended_s else None,
            "end_latency_p50_s": round(self.end_latency_p50_s, 1),
            "argo_cpu_per_workflow_ms": round(1000 * self.argo_cpu_s / n, 1),
            "load_avg_1m_start_end": self.load,
            "apiserver_requests_per_run": round(sum(self.apiserver.values()) / n, 1),
            "argo_rss_mib": round(self.argo_rss_mib, 1),
        }
        if self.kind == "orch":
            out.update({
                "workflows_ended_s": round(self.workflows_ended_s, 1),
                "controller_cpu_per_run_ms": round(1000 * self.controller_cpu_s / n, 1),
                "controller_cpu_to_end_per_run_ms":
                    round(1000 * self.controller_cpu_to_end_s / n, 1),
                "controller_over_argo_cpu": round(self.controller_cpu_s / self.argo_cpu_s, 3)
                if self.argo_cpu_s else None,
                "requests_per_run": round(sum(self.controller_requests.values()) / n, 2),
                "requests_per_run_by_method": {
                    k: round(v / n, 2) for k, v in sorted(self.controller_requests.items())},
                "audit_per_run": {k: round(v / n, 2) for k, v in sorted(
                    self.audit.items(), key=lambda kv: -kv[1])},
                "controller_rss_mib": round(self.controller_rss_mib, 1),
            })
        out["cpu_s_to_end"] = {k: round(v, 1) for k, v in sorted(
            self.components_cpu_s.items(), key=lambda kv: -kv[1])}
        out["machine_busy_to_end"] = round(self.machine_busy, 2)
        out["apiserver_per_run"] = {k: round(v / n, 2) for k, v in sorted(
            self.apiserver.items(), key=lambda kv: -kv[1]) if v / n >= 0.05}
        return out


class Bench:
    def __init__(self, cluster: Cluster, work: Path, steps: int, workers: int,
                 leader_elect: bool) -> None:
        self.cluster, self.work, self.steps = cluster, work, steps
        self.workers, self.leader_elect = workers, leader_elect
        self.ns = cluster.namespace
        self.api = cluster.api_client
        self.custom = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)
        self.audit = probes.AuditLog(cluster.audit_log,
                                     f"system:serviceaccount:{CHART_NAMESPACE}:{CHART_SA}")
        self.runs = probes.Ended(self.api, f"/apis/{GROUP}/{VERSION}/namespaces/{self.ns}/"
                                 "orchestrationruns", probes.run_ended).start()
        self.workflows = probes.Ended(self.api, f"/apis/argoproj.io/v1alpha1/namespaces/"
                                      f"{self.ns}/workflows", probes.phase_label_ended,
                                      metadata_only=True).start()
        self.serial = 0
        self.specs: dict[str, str] = {}  # the first Workflow of each kind of phase

    def same_workflows(self) -> None:
        """The argo phase ran what orch submits: the stored specs are equal."""
        if len(self.specs) < 2:
            return
        if self.specs["argo"] != self.specs["orch"]:
            diff = difflib.unified_diff(self.specs["argo"].splitlines(),
                                        self.specs["orch"].splitlines(), "argo phase",
                                        "orch phase", lineterm="", n=1)
            raise AssertionError("the two phases ran different Workflows; the comparison "
                                 "would be unfair:\n" + "\n".join(diff))
        print(json.dumps({"same_workflow_spec": True}), flush=True)

    # -- processes ------------------------------------------------------------------
    def start_controller(self) -> ControllerProcess:
        self.serial += 1
        name = f"many-runs-{self.serial}"
        kubeconfig = service_account_kubeconfig(self.cluster, [self.ns], self.ns, name,
                                                self.work / f"sa-{name}")
        extra = ["--workers", str(self.workers)]
        if not self.leader_elect:
            extra.append("--no-leader-elect")
        ctl = ControllerProcess(kubeconfig, self.ns, self.work, name, self.ns, name,
                                extra=extra).start()
        ctl.wait_ready(120)
        return ctl

    def snapshot(self, argo_pid: int, ctl: ControllerProcess | None) -> Snapshot:
        pid = ctl.popen.pid if ctl is not None and ctl.popen is not None else None
        requests: probes.Tally = {}
        if ctl is not None:
            _, text = ctl.get("/metrics")
            requests = probes.samples(text, "rest_client_requests_total", ("method",))
        components = {p.name: probes.cpu_seconds(p.popen.pid)
                      for p in self.cluster.sup.procs if p.alive()}
        if pid:
            components["orch-controller"] = probes.cpu_seconds(pid)
        components["this benchmark"] = probes.cpu_seconds(os.getpid())
        return Snapshot(time.monotonic(), probes.cpu_seconds(argo_pid),
                        probes.cpu_seconds(pid) if pid else 0.0, requests,
                        probes.apiserver_requests(self.api), self.audit.offset(),
                        components, probes.machine_busy_seconds())

    # -- objects ----------------------------------------------------------------------
    def create(self, kind: str, bodies: list[Obj]) -> None:
        group, plural = (("argoproj.io", "workflows") if kind == "argo"
                         else (GROUP, "orchestrationruns"))
        version = "v1alpha1"

        def one(body: Obj) -> None:
            self.custom.create_namespaced_custom_object(group, version, self.ns, plural, body)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, bodies))

    def clean(self) -> None:
        """Every run, Workflow, pod and Event of the namespace deleted, and gone.
        A collection of thousands can outlast the apiserver's 60 s request timeout
        (504; the deletion goes on): asked again until nothing is left. The answer,
        every deleted object (100 MB for 10,000 pods, which broke the connection
        mid-read at 1,000 runs), is never read."""
        def delete_all() -> None:
            for group, plural in ((GROUP, "orchestrationruns"), ("argoproj.io", "workflows")):
                _unread(self.custom.delete_collection_namespaced_custom_object(
                    group, VERSION, self.ns, plural, grace_period_seconds=0,
                    _preload_content=False))
            _unread(self.core.delete_collection_namespaced_pod(
                self.ns, grace_period_seconds=0, _preload_content=False))
            _unread(self.core.delete_collection_namespaced_event(
                self.ns, _preload_content=False))
        for _ in range(10):
            try:
                delete_all()
                break
            except client.ApiException as e:
                if e.status not in (500, 503, 504):
                    raise
                print(json.dumps({"clean": f"{e.status}, again"}), flush=True)

        def empty() -> bool:
            left = self.core.list_namespaced_pod(self.ns, limit=1).items
            for group, plural in ((GROUP, "orchestrationruns"), ("argoproj.io", "workflows")):
                got: Obj = self.custom.list_namespaced_custom_object(  # type: ignore[assignment]
                    group, VERSION, self.ns, plural, limit=1)
                left += got.get("items") or []
            return not left
        wait_for(empty, "the namespace emptied", 600, 1)
        self.runs.forget()
        self.workflows.forget()

    # -- one phase --------------------------------------------------------------------
    def phase(self, kind: str, names: list[str], workflows: dict[str, Obj],
              timeout: float, argo: tuple[str, argo_cluster.ArgoSettings]) -> Phase:
        """One measured phase; the namespace is left as it ended (`clean` empties it)."""
        argo_pid = self.cluster.restart_argo(argo[1]).popen.pid
        ctl = self.start_controller() if kind == "orch" else None
        profiler = self.start_profiler(ctl, len(names)) if ctl is not None else None
        time.sleep(2)  # start-up traffic (lists, watches) is not the runs'
        result = Phase(kind, len(names), argo[0])
        load0 = os.getloadavg()[0]
        before = self.snapshot(argo_pid, ctl)
        bodies = ([workflows[n] for n in names] if kind == "argo"
                  else [run(n, ORCH) for n in names])
        self.create(kind, bodies)
        result.created_s = time.monotonic() - before.at
        watched = self.workflows if kind == "argo" else self.runs
        deadline = time.monotonic() + timeout
        last_print = time.monotonic()
        while watched.count_ended(names) < len(names):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{kind}: {watched.count_ended(names)} of {len(names)} "
                                   f"ended after {timeout:.0f}s")
            if ctl is not None and ctl.popen is not None and ctl.popen.poll() is not None:
                raise RuntimeError(f"the controller exited:\n{ctl.tail()}")
            if time.monotonic() - last_print > 15:
                last_print = time.monotonic()
                print(json.dumps({"progress": kind, "ended": watched.count_ended(names),
                                  "of": len(names),
                                  "s": round(last_print - before.at)}), flush=True)
            time.sleep(0.2)
        at_end = self.snapshot(argo_pid, ctl)
        with watched.lock:
            ended = [watched.ended_at[n] - before.at for n in names]
        result.all_ended_s = max(ended)
        result.end_latency_p50_s = statistics.median(ended)
        result.end_latency_max_s = max(ended)
        if kind == "orch":
            with self.workflows.lock:
                wf_ended = [self.workflows.ended_at.get(n) for n in names]
            result.workflows_ended_s = max((t for t in wf_ended if t), default=0.0) - before.at
        time.sleep(SETTLE)
        after = self.snapshot(argo_pid, ctl)
        result.load = (round(load0, 2), round(os.getloadavg()[0], 2))
        result.argo_cpu_s = after.argo_cpu - before.argo_cpu
        result.argo_cpu_to_end_s = at_end.argo_cpu - before.argo_cpu
        result.controller_cpu_s = after.controller_cpu - before.controller_cpu
        result.controller_cpu_to_end_s = at_end.controller_cpu - before.controller_cpu
        result.controller_requests = {k[0]: v for k, v in probes.delta(
            after.controller_requests, before.controller_requests).items()}
        result.audit = {" ".join(k): v for k, v in self.audit.requests(
            before.audit_offset, after.audit_offset).items()}
        result.apiserver = {" ".join(p for p in k if p): v for k, v in probes.delta(
            after.apiserver, before.apiserver).items()}
        result.components_cpu_s = {k: v - before.components.get(k, 0.0)
                                   for k, v in at_end.components.items()}
        busy, total = (at_end.machine[0] - before.machine[0],
                       at_end.machine[1] - before.machine[1])
        result.machine_busy = busy / total if total else 0.0
        result.argo_rss_mib = probes.rss_mib(argo_pid)
        if ctl is not None:
            assert ctl.popen is not None
            result.controller_rss_mib = probes.rss_mib(ctl.popen.pid)
            if profiler is not None:
                result.profile = self.stop_profiler(profiler)
            ctl.terminate()
        self.specs.setdefault(kind, self.stored_spec(names[0]))
        return result

    def stored_spec(self, name: str) -> str:
        """The spec of Workflow `name` as stored once Argo ran it (Argo writes its
        defaults into it), its name replaced, to compare the two phases' Workflows."""
        got: Obj = self.custom.get_namespaced_custom_object(  # type: ignore[assignment]
            "argoproj.io", VERSION, self.ns, "workflows", name)
        return json.dumps(got["spec"], indent=1, sort_keys=True).replace(f'"{name}"', '"RUN"')

    # -- the profiler -----------------------------------------------------------------
    def start_profiler(self, ctl: ControllerProcess | None,
                       n: int) -> tuple[subprocess.Popen[bytes], Path] | None:
        spec = os.environ.get(PROFILE_ENV, "")
        if not spec or ctl is None or ctl.popen is None:
            return None
        tool, _, rate = spec.partition(":")
        if tool != "py-spy":
            raise SystemExit(f"{PROFILE_ENV}={spec}: only py-spy[:RATE] is known")
        out = self.work / f"controller-{self.serial}-{n}.pyspy.txt"
        spy = Path(sys.executable).parent / "py-spy"
        proc = subprocess.Popen([str(spy), "record", "--pid", str(ctl.popen.pid),
                                 "--rate", rate or "100", "--nonblocking", "--gil",
                                 "--format", "raw",
                                 "--output", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return proc, out

    def stop_profiler(self, profiler: tuple[subprocess.Popen[bytes], Path]) -> str:
        proc, out = profiler
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        print(json.dumps({"profile": str(out)}), flush=True)
        return profile_report(out.read_text(), top=30) if out.exists() else "no profile"


def pairs(phases: list[Phase]) -> list[tuple[Phase, Phase]]:
    """Each orch phase with the argo phase of the same settings next to it
    (before it, else after)."""
    out = []
    for i, p in enumerate(phases):
        if p.kind != "orch":
            continue
        near = [q for q in (phases[i - 1] if i else None,
                            phases[i + 1] if i + 1 < len(phases) else None)
                if q is not None and q.kind == "argo" and q.argo == p.argo]
        if near:
            out.append((p, near[0]))
    return out


def verdict(orch: Phase, argo: Phase) -> dict[str, Any]:
    n = orch.runs
    time_ratio = orch.all_ended_s / argo.all_ended_s
    cpu_ratio = (orch.controller_cpu_s / n) / (argo.argo_cpu_s / n)
    requests = sum(orch.controller_requests.values()) / n
    return {"orch_s": round(orch.all_ended_s, 1), "argo_s": round(argo.all_ended_s, 1),
            "time_ratio": round(time_ratio, 3), "time_target_met": time_ratio <= 1.05,
            "controller_cpu_per_run_ms": round(1000 * orch.controller_cpu_s / n, 1),
            "argo_cpu_per_workflow_ms": round(1000 * argo.argo_cpu_s / n, 1),
            "cpu_ratio": round(cpu_ratio, 3), "cpu_target_met": cpu_ratio <= 0.10,
            "requests_per_run": round(requests, 2), "requests_target_met": requests <= 5}


def spread(verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """The median and the range of each ratio over the pairs of one run."""
    out: dict[str, Any] = {"pairs": len(verdicts)}
    for key in ("time_ratio", "cpu_ratio", "requests_per_run", "orch_s", "argo_s",
                "controller_cpu_per_run_ms", "argo_cpu_per_workflow_ms"):
        values = [v[key] for v in verdicts]
        if values:
            out[key] = {"median": round(statistics.median(values), 3),
                        "range": [min(values), max(values)]}
    return out


def machine() -> dict[str, Any]:
    return {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="minutes"),
            "host": platform.node(), "cores": os.cpu_count(), "python": platform.python_version(),
            "cpu": next((line.split(":", 1)[1].strip() for line in
                         Path("/proc/cpuinfo").read_text().splitlines()
                         if line.startswith("model name")), "")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--argo", choices=sorted(SETTINGS), default="default",
                   help="Argo's settings (tests/cluster/argo.py): default = every test's")
    p.add_argument("--argo-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one of Argo's settings: FIELD=VALUE, env:NAME=VALUE, "
                        "config:KEY=VALUE (repeatable)")
    p.add_argument("--order", default="argo,orch",
                   help="phases in order, comma-separated: argo or orch, each with @SETTINGS "
                        "to run Argo with other settings than --argo (argo@default)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                   help="named Argo settings for @NAME: --argo's with these overrides "
                        "(as --argo-set; repeatable)")
    p.add_argument("--workers", type=int, default=8, help="the controller's --workers")
    p.add_argument("--leader-elect", action="store_true",
                   help="the controller holds a Lease (its renewals are counted too)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds a phase may take")
    p.add_argument("--json", type=Path, help="also write every result here")
    args = p.parse_args(argv)
    settings = with_overrides(SETTINGS[args.argo], args.argo_set)
    variants = {**SETTINGS, args.argo: settings}
    for v in args.variant:
        name, _, overrides = v.partition(":")
        variants[name] = with_overrides(settings, [o for o in overrides.split(",") if o])
    order = [o.strip().partition("@") for o in args.order.split(",") if o.strip()]
    if not order or any(k not in ("argo", "orch") or (at and name not in variants)
                        for k, at, name in order):
        p.error(f"--order: argo or orch, each with @SETTINGS of {', '.join(variants)}")
    bin_dir = ensure_tools(build=False)
    cluster = Cluster(bin_dir, share_dir(bin_dir), argo_settings=settings)
    cluster.install_exit_handlers()
    work = Path(tempfile.mkdtemp(prefix="orch-bench-many-"))
    header = {"benchmark": "many_runs", "runs": args.runs, "steps": args.steps,
              "argo": args.argo, "argo_settings": {
                  "argv": settings.argv(), "env": settings.environment(),
                  "config": dict(settings.config)},
              "variants": {k: v.argv() + [f"{a}={b}" for a, b in {**v.environment(),
                                                                    **v.config}.items()]
                           for k, v in variants.items() if k not in SETTINGS},
              "order": ["".join(o) for o in order], "controller_workers": args.workers, **machine()}
    print(json.dumps(header), flush=True)
    phases: list[Phase] = []
    try:
        cluster.start()
        cluster.kube.apply(chain(args.steps), cluster.namespace)
        names = {k: [f"{k}-{i}" for i in range(args.runs)] for k in ("argo", "orch")}
        workflows = compiled(chain(args.steps), names["argo"] + names["orch"],
                             cluster.namespace, work)
        bench = Bench(cluster, work, args.steps, args.workers, args.leader_elect)
        for kind, _, name in order:
            name = name or args.argo
            result = bench.phase(kind, names[kind], workflows, args.timeout,
                                 (name, variants[name]))
            phases.append(result)
            print(json.dumps(result.summary()), flush=True)
            if result.profile:
                print(result.profile, flush=True)
            bench.clean()
        bench.same_workflows()
        verdicts = [verdict(o, a) for o, a in pairs(phases)]
        for v in verdicts:
            print(json.dumps({"verdict": v}), flush=True)
        print(json.dumps({"summary": spread(verdicts)}), flush=True)
        if args.json:
            args.json.write_text(json.dumps({**header, "phases": [
                ph.summary() for ph in phases], "verdicts": verdicts,
                "summary": spread(verdicts)}, indent=2))
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
