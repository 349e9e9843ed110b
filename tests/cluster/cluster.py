"""The whole test cluster as one object: start in order, stop everything.

Why: the pytest fixture and `python -m tests.cluster up` must build the same
cluster. Start order follows dependencies (etcd -> apiserver -> CRDs -> the
controllers that watch them); independent pieces start together so a warm
start stays within seconds. Stop is idempotent and runs from the fixture's
teardown, atexit and SIGTERM/SIGHUP alike.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from kubernetes import client

from orchapi.api import Obj
from tests.cluster import argo, control_plane, kwok
from tests.cluster.kube import Kube, api_client, wait_for
from tests.cluster.pki import make_pki
from tests.cluster.procs import Proc, Supervisor, stop_group, sweep_stale_dirs
from tests.cluster.tools import REPO

WORKFLOW_NAMESPACE = "orch-e2e"
WORK_PREFIX = "orch-cluster-"
# Only the CRDs our steps create or wait on; never jangar's orchestrations /
# orchestrationruns, which share names with ours and would replace them.
JANGAR_CRD_PLURALS = ("agentruns", "toolruns", "tools", "approvalpolicies", "signaldeliveries")
ORCH_CRDS = REPO / "charts" / "orch" / "crds"
# The reference system's CRDs come from ../shared only: a fresh clone has none, and
# the tests that create those kinds leave that part out (saying so) there.
AGENT_RUN_CRD = "agentruns.agents.proompteng.ai"
TOOL_CRD = "tools.tools.proompteng.ai"


def shared_dir() -> Path:
    """`shared/` beside the repo (CI lays a copy there too), overridable."""
    return Path(os.environ.get("ORCH_SHARED_DIR", str(REPO.parent / "shared")))


def crd_files(share: Path) -> list[Path]:
    """Every CRD file the cluster installs, in install order."""
    jangar = shared_dir() / "reference" / "jangar" / "charts" / "agents" / "crds"
    files = sorted((share / "argo-crds" / "minimal").glob("*.yaml"))
    files.append(share / "kwok" / "kwok.x-k8s.io_stages.yaml")
    files += [f for p in JANGAR_CRD_PLURALS for f in sorted(jangar.glob(f"*_{p}.yaml"))]
    files += sorted(ORCH_CRDS.glob("*.yaml"))  # absent until generated: picked up when present
    return files


class Cluster:
    """etcd + kube-apiserver + controller-manager + scheduler + kwok + Argo."""

    def __init__(self, bin_dir: Path, share_dir: Path, attached: bool = True,
                 namespace: str = WORKFLOW_NAMESPACE, keep: bool = False,
                 argo_settings: argo.ArgoSettings = argo.DEFAULT) -> None:
        self.bin_dir, self.share_dir, self.namespace = bin_dir, share_dir, namespace
        self.argo_settings = argo_settings
        sweep_stale_dirs(Path(tempfile.gettempdir()), WORK_PREFIX)
        self.work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX))
        self.keep = keep
        if keep:
            (self.work / "keep").touch()
        self.sup = Supervisor(self.work, attached=attached)
        self.timings: dict[str, float] = {}
        self.crds: list[str] = []
        self.kubeconfig = self.work / "kubeconfig"
        # JSON lines, one per request by a ServiceAccount (control_plane.AUDIT_POLICY)
        self.audit_log = self.work / control_plane.AUDIT_LOG
        self.api_url = ""
        self._api: client.ApiClient | None = None
        self._stopped = False
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> Cluster:
        t0 = time.monotonic()

        def mark(what: str) -> None:
            self.timings[what] = round(time.monotonic() - t0, 2)

        pki = make_pki(self.work / "pki")
        mark("pki")
        etcd = control_plane.start_etcd(self.sup, self.bin_dir, self.work / "etcd")
        mark("etcd_ready")
        api = control_plane.start_apiserver(self.sup, self.bin_dir, etcd, pki, self.work)
        self.api_url = api.url
        mark("apiserver_ready")
        # The controllers start while the CRDs are installed: their start-up
        # overlaps the apiserver's schema work (measured: same total either way,
        # and the node lifecycle controller is ready sooner).
        control_plane.start_controller_manager(self.sup, self.bin_dir, self.kubeconfig, pki)
        control_plane.start_scheduler(self.sup, self.bin_dir, self.kubeconfig)
        kube = self.kube
        self.crds = kube.install_crds(crd_files(self.share_dir))
        mark("crds_established")
        for obj in [kwok.fake_node(), *kwok.default_stages(self.share_dir),
                    *argo.controller_objects(self.namespace, self.argo_settings)]:
            kube.create(obj)
        kwok_proc = kwok.start_kwok(self.sup, self.bin_dir, self.kubeconfig, self.work)
        wf_controller = argo.start_controller(self.sup, self.bin_dir, self.kubeconfig,
                                              self.argo_settings)
        argo.wait_controller_ready(kube, wf_controller)
        mark("argo_ready")
        wait_for(lambda: kwok_proc.alive() and kwok.node_schedulable(kube),
                 f"Node {kwok.NODE_NAME} Ready and untainted", 60)
        mark("node_schedulable")
        self.write_state()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self._api is not None:
            with contextlib.suppress(Exception):
                self._api.close()  # type: ignore[no-untyped-call]
        self.sup.stop_all()
        if not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def install_exit_handlers(self) -> None:
        """Stop on interpreter exit and on SIGTERM/SIGHUP (turned into SystemExit
        so pytest's teardown runs too). Ctrl-C is Python's KeyboardInterrupt."""
        atexit.register(self.stop)
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            raise SystemExit(128 + signum)

        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, on_signal)

    def argo_proc(self) -> Proc:
        """Argo's running workflow-controller."""
        return next(p for p in self.sup.procs if p.name == "workflow-controller")

    def restart_argo(self, settings: argo.ArgoSettings | None = None) -> Proc:
        """A fresh workflow-controller, once it has reconciled a Workflow (a
        benchmark starts each measurement from one): with `settings` (its
        ConfigMap rewritten first) or the cluster's."""
        if settings is not None and settings != self.argo_settings:
            self.argo_settings = settings
            client.CoreV1Api(self.api_client).patch_namespaced_config_map(
                argo.CONFIGMAP, argo.CONTROLLER_NAMESPACE,
                [{"op": "replace", "path": "/data", "value": settings.configmap_data()}],
                _content_type="application/json-patch+json")
        old = self.argo_proc()
        stop_group(old.popen.pid, 10, old.popen.wait)
        self.sup.procs.remove(old)
        proc = argo.start_controller(self.sup, self.bin_dir, self.kubeconfig,
                                     self.argo_settings)
        argo.wait_controller_ready(self.kube, proc)
        self.write_state()
        return proc

    # -- what tests use ----------------------------------------------------------
    @property
    def api_client(self) -> client.ApiClient:
        if self._api is None:
            self._api = api_client(self.kubeconfig)
        return self._api

    @property
    def kube(self) -> Kube:
        return Kube(self.api_client)

    def apply_yaml(self, source: str | Path, namespace: str | None = None) -> list[Obj]:
        return self.kube.apply_yaml(source, namespace or self.namespace)

    def wait_for_workflow(self, name: str, namespace: str | None = None,
                          timeout: float = 60) -> Obj:
        return argo.wait_for_workflow(self.kube, name, namespace or self.namespace, timeout)

    def failures(self) -> kwok.Failures:
        return kwok.Failures(self.kube)

    def env(self) -> dict[str, str]:
        """Environment for tools run against this cluster (kubectl, argo, helm, ...)."""
        return {"KUBECONFIG": str(self.kubeconfig), "ORCH_TOOLS_BIN": str(self.bin_dir),
                "ORCH_E2E_NAMESPACE": self.namespace}

    def state(self) -> dict[str, Any]:
        return {
            "work_dir": str(self.work), "kubeconfig": str(self.kubeconfig),
            "api_url": self.api_url, "bin_dir": str(self.bin_dir),
            "audit_log": str(self.audit_log),
            "namespace": self.namespace, "timings": self.timings, "crds": self.crds,
            "processes": [{"name": p.name, "pid": p.popen.pid, "log": str(p.log)}
                          for p in self.sup.procs],
        }

    def write_state(self) -> None:
        (self.work / "state.json").write_text(json.dumps(self.state(), indent=2))
