"""Node status compressed by the real Argo is mirrored and its waits released
(contract §5; issue 20 5a).

The built Argo (v4.0.5, the newest on the Go module proxy) compresses node status
with gzip only, through pgzip by default or Go's gzip (`GZIP_IMPLEMENTATION=GZip`);
zstd and brotli arrived in v4.1 (#16262), which is not on the proxy, so those are
tested with payloads Argo v4.1's own code made (tests/gotools/test_nodecompress.py,
tests/unit/compiler/test_compressed.py). Here a second workflow-controller, with its
own instance id (the session's Argo leaves such Workflows alone) and
`MAX_WORKFLOW_SIZE` just above the Workflow's size without nodes, runs a run's
Workflow, so every status it writes has `compressedNodes`: the run must end
`Succeeded` with every step mirrored, its SignalWait released by the controller
on the compressed Workflow.

What it adds to the suite: about 5 s per implementation (a second Argo starts).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import pytest

from controller.events import Recorder
from controller.kube import Kube, load_api_client
from controller.reconcile import Caches, Reconciler
from orchapi.api import ORCHESTRATIONS, RUNS, WORKFLOWS, Obj
from tests.cluster import Cluster
from tests.cluster.argo import CONFIGMAP, CONTROLLER_NAMESPACE, IMAGES
from tests.cluster.kube import wait_for
from tests.cluster.procs import Proc
from tests.e2e.orch_controller import (
    API,
    WF_API,
    leading_controller,
    orchestration,
    run,
    step_table,
)

pytestmark = pytest.mark.e2e


def instance(implementation: str) -> str:
    return f"orch-compressed-{implementation.lower()}"

# Fifteen nodes before the wait: their status, compressed, fits the limit set below;
# uncompressed, it does not.
FIRST = [f"first-{i}" for i in range(15)]


def steps(signal_name: str) -> list[Obj]:
    return [*({"name": n, "kind": "Checkpoint"} for n in FIRST),
            {"name": "wait", "kind": "SignalWait", "signalRef": {"name": signal_name},
             "dependsOn": FIRST},
            {"name": "last", "kind": "Checkpoint", "dependsOn": ["wait"]}]


def second_argo(cluster: Cluster, implementation: str, max_size: int) -> Proc:
    """A workflow-controller of its own instance id (`instance(implementation)`),
    stopped by the caller."""
    name = f"{CONFIGMAP}-{implementation.lower()}"
    cluster.kube.apply({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": name, "namespace": CONTROLLER_NAMESPACE},
                        "data": {"instanceID": instance(implementation),
                                 "metricsConfig": "enabled: false\n",
                                 "telemetryConfig": "enabled: false\n", "images": IMAGES}})
    return cluster.sup.start(f"workflow-controller-{implementation.lower()}", [
        str(cluster.bin_dir / "workflow-controller"), f"--kubeconfig={cluster.kubeconfig}",
        f"--namespace={CONTROLLER_NAMESPACE}", f"--configmap={name}", "--loglevel=info",
    ], env={"LEADER_ELECTION_DISABLE": "true", "DEFAULT_REQUEUE_TIME": "1s",
            "MAX_WORKFLOW_SIZE": str(max_size), "GZIP_IMPLEMENTATION": implementation})


@pytest.mark.parametrize("implementation", ["PGZip", "GZip"])
def test_argos_gzip_node_status_is_mirrored_and_its_wait_released(
        cluster: Cluster, tmp_path: Path, implementation: str) -> None:
    ns = cluster.namespace
    name = f"gz-{implementation.lower()}"
    cluster.kube.apply(orchestration(name, steps(f"{name}-go")), ns)
    cluster.kube.apply(run(f"{name}-1", name), ns)
    # The Workflow the controller would submit, created first with the second
    # Argo's instance label (the controller then finds its own Workflow: owned by
    # the run, compiled exactly as it compiles).
    kube = Kube(load_api_client(str(cluster.kubeconfig), False))
    orch, live = kube.get(ORCHESTRATIONS, ns, name), kube.get(RUNS, ns, f"{name}-1")
    assert orch is not None and live is not None
    nothing = lambda _ns, _n: None  # noqa: E731
    caches = Caches(orchestration=nothing, run=nothing, workflow=nothing)
    body = Reconciler(kube, caches, Recorder(kube)).submission(orch, live).workflow
    assert body is not None
    body["metadata"]["labels"]["workflows.argoproj.io/controller-instanceid"] = instance(
        implementation)
    argo = second_argo(cluster, implementation, len(json.dumps(body)) + 4000)
    try:
        kube.create(WORKFLOWS, ns, body)
        final, seen = run_on(cluster, tmp_path, name)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(argo.popen.pid, signal.SIGKILL)
        argo.popen.wait(10)
    assert step_table(final) == {n: ("Succeeded", None) for n in [*FIRST, "wait", "last"]}
    assert any(seen), "Argo never wrote compressedNodes"


def run_on(cluster: Cluster, tmp_path: Path, name: str) -> tuple[Obj, list[bool]]:
    """The controller mirrors the run, releases its wait, and it ends."""
    ns = cluster.namespace
    seen: list[bool] = []

    def workflow() -> Obj:
        return cluster.kube.get(WF_API, "Workflow", f"{name}-1", ns) or {}

    def the_run() -> Obj:
        return cluster.kube.get(API, "OrchestrationRun", f"{name}-1", ns) or {}

    with leading_controller(cluster, tmp_path, name):
        def waiting() -> bool:
            status = workflow().get("status") or {}
            seen.append(bool(status.get("compressedNodes")) and not status.get("nodes"))
            return step_table(the_run()).get("wait", ("",))[0] == "Running" and seen[-1]
        wait_for(waiting, "the wait Running, mirrored from compressed nodes", 90, 0.2)
        cluster.kube.apply({"apiVersion": "signals.proompteng.ai/v1alpha1",
                            "kind": "SignalDelivery", "metadata": {"name": f"{name}-go"},
                            "spec": {"signalRef": {"name": f"{name}-go"}}}, ns)
        final = wait_for(lambda: the_run() if (the_run().get("status") or {}).get("phase")
                         == "Succeeded" else None, "the run Succeeded", 90, 0.2)
    return final, seen
