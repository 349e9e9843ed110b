"""The controller's pieces in-process against the real apiserver: the reconciler's
status writes under conflict (409), the informer across watch restarts and
`410 Gone`, and the mirror of node statuses the test writes itself (Argo is kept
off those Workflows with a controller-instanceid label it does not own).
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
from typing import Any, cast

import pytest

from controller.events import Recorder
from controller.kube import Kube
from controller.mapping import RUN, Key
from controller.metrics import Metrics
from controller.reconcile import Caches, Reconciler
from controller.watch import Informer
from orchapi.api import ORCHESTRATIONS, RUNS, WORKFLOWS, Obj
from tests.cluster import Cluster
from tests.cluster.kube import wait_for
from tests.e2e.orch_controller import (
    API,
    WF_API,
    condition,
    orchestration,
    run,
    step,
    step_table,
)

pytestmark = pytest.mark.e2e
IGNORED_BY_ARGO = {"workflows.argoproj.io/controller-instanceid": "nobody"}


@pytest.fixture
def kube(cluster: Cluster) -> Kube:
    return Kube(cluster.api_client, Metrics())


def live_reconciler(kube: Kube, run_lookup: Any = None) -> Reconciler:
    def get(res: Any) -> Any:
        return lambda ns, name: kube.get(res, ns, name)
    return Reconciler(kube, Caches(orchestration=get(ORCHESTRATIONS),
                                   run=run_lookup or get(RUNS), workflow=get(WORKFLOWS)),
                      Recorder(kube))


def test_status_conflict_is_retried_without_losing_the_other_write(
        cluster: Cluster, kube: Kube) -> None:
    ns = cluster.namespace
    cluster.kube.apply(orchestration("it-409", [step("a")]), ns)
    cluster.kube.apply(run("it-409-1", "it-409"), ns)
    stale = kube.get(RUNS, ns, "it-409-1")  # as a lagging cache would hold it
    assert stale is not None
    # One controller (its key, and its memory of the Workflow it created), whose cache
    # of the run is read live at first, then lags two writes behind.
    cached: dict[str, Obj] = {}
    reconciler = live_reconciler(kube, run_lookup=lambda _ns, name: cached.get(name)
                                 or kube.get(RUNS, ns, name))
    reconciler.reconcile(Key(RUN, ns, "it-409-1"))  # submits, writes status
    current = kube.get(RUNS, ns, "it-409-1")
    assert current is not None
    # Someone else adds a condition; our cached copy is now two writes behind.
    audited = {"type": "Audited", "status": "True", "reason": "ByTest", "message": "x",
               "lastTransitionTime": "2026-01-01T00:00:00Z"}
    current["status"]["conditions"].append(audited)
    kube.replace_status(RUNS, ns, "it-409-1", current)
    cached["it-409-1"] = stale
    reconciler.reconcile(Key(RUN, ns, "it-409-1"))
    samples = kube.metrics.api_requests.labels("409", "PUT")._value.get()  # type: ignore[union-attr]
    assert samples == 1
    live = kube.get(RUNS, ns, "it-409-1")
    assert live is not None
    assert condition(live, "Audited")["reason"] == "ByTest"  # not lost
    assert condition(live, "Submitted")["status"] == "True"
    assert set(step_table(live)) == {"a"}
    assert len(cluster.kube.list_objects(WF_API, "Workflow", ns,
                                         "orchestration.proompteng.ai/run=it-409-1")) == 1


class CountedWatches:
    """A Kube that counts the watches opened through it (each restart opens one)."""

    def __init__(self, kube: Kube) -> None:
        self.kube, self.opened = kube, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.kube, name)

    def watch(self, *args: Any, **kwargs: Any) -> Any:
        self.opened += 1
        return self.kube.watch(*args, **kwargs)



def test_informer_survives_watch_restarts_and_410_without_missing_a_change(
        cluster: Cluster, kube: Kube) -> None:
    ns = cluster.namespace
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def on_event(kind: str, obj: Obj) -> None:
        with lock:
            seen.append((kind, obj["metadata"]["name"]))

    counted = CountedWatches(kube)
    informer = Informer(cast(Kube, counted), ORCHESTRATIONS, ns, on_event, kube.metrics,
                        timeout_range=(1, 1))
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    try:
        assert informer.synced.wait(10)
        for i in range(4):  # each change seen, then the 1 s watch restarted: several watches
            name = f"it-w-{i}"
            cluster.kube.apply(orchestration(name, [step("a")]), ns)

            def added(n: str = name) -> bool:
                return ("ADDED", n) in seen
            wait_for(added, f"{name} ADDED", 10, 0.02)

            def reopened(before: int = counted.opened) -> bool:  # once it was seen
                return counted.opened > before
            wait_for(reopened, "the next watch", 10, 0.02)
    finally:
        informer.stop()
        thread.join(5)
    relists = informer.relists
    # Offline: a change happens, and the resourceVersion we resume from is long gone.
    cluster.kube.apply(orchestration("it-w-offline", [step("a")]), ns)
    cluster.kube.delete(API, "Orchestration", "it-w-0", ns)
    # The cache as the first informer left it.
    informer2 = Informer(kube, ORCHESTRATIONS, ns, on_event, kube.metrics, store=informer.store)
    informer2.resource_version = "1"  # compacted long ago: the apiserver answers 410
    thread = threading.Thread(target=informer2.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: ("ADDED", "it-w-offline") in seen and ("DELETED", "it-w-0") in seen,
                 "the offline changes after the relist", 15)
        assert informer2.relists == 1 and relists == 1
        gone = kube.metrics.watch_restarts.labels("orchestrations", "gone")._value.get()  # type: ignore[union-attr]
        assert gone >= 1
        assert informer2.get(ns, "it-w-offline") is not None
        assert informer2.get(ns, "it-w-0") is None
    finally:
        informer2.stop()
        thread.join(5)


# -- node statuses written by the test -------------------------------------------------------
#   a
#  / \
# b   c      e (continueOnFailure) -> f
#  \ /
#   d
ARGO_TABLE = [step("a", []), step("b", ["a"]), step("c", ["a"]), step("d", ["b", "c"]),
              step("e", [], continueOnFailure=True, retries=2), step("f", ["e"]),
              step("g", []), step("h", [])]


def nodes(wf_name: str, phases: dict[str, tuple[str, str]]) -> dict[str, Obj]:
    out: dict[str, Obj] = {wf_name: {
        "id": wf_name, "name": wf_name, "displayName": wf_name, "type": "DAG",
        "templateName": "main", "phase": "Running", "startedAt": "2026-01-01T00:00:00Z"}}
    for i, (name, (phase, message)) in enumerate(phases.items()):
        node_id = f"{wf_name}-{1000 + i}"
        out[node_id] = {"id": node_id, "name": f"{wf_name}.{name}", "displayName": name,
                        "type": "Retry" if name == "e" else "Pod", "phase": phase,
                        "boundaryID": wf_name, "templateName": "x", "message": message,
                        "startedAt": "2026-01-01T00:00:01Z"}
        if name == "e":
            out[node_id]["children"] = [f"{node_id}-0", f"{node_id}-1"]
    # A node of the same displayName outside the entry boundary must be ignored.
    out["elsewhere"] = {"id": "elsewhere", "name": "x.g", "displayName": "g", "type": "Pod",
                        "phase": "Failed", "boundaryID": "another-dag"}
    return out


@pytest.mark.parametrize("compressed", [False, True], ids=["nodes", "compressedNodes"])
def test_node_statuses_written_by_the_test_are_mirrored_per_the_table(
        cluster: Cluster, kube: Kube, compressed: bool) -> None:
    ns, name = cluster.namespace, f"it-tbl-{'z' if compressed else 'n'}"
    cluster.kube.apply(orchestration(name, ARGO_TABLE), ns)
    r = cluster.kube.apply(run(f"{name}-1", name), ns)
    wf_name = f"{name}-1"
    reconciler = live_reconciler(kube)
    # Pre-create the run's Workflow (owned by the run, ignored by Argo) as the
    # controller would, and tell the reconciler it did (a Workflow the controller
    # did not create is never adopted: issue 22.9, tests/e2e/test_security_lies.py).
    from controller.validation import check_orchestration_object, compile_run

    orch_obj = kube.get(ORCHESTRATIONS, ns, name)
    assert orch_obj is not None
    _, model = check_orchestration_object(orch_obj)
    assert model is not None
    _, compiled = compile_run(model, r, None)
    assert compiled is not None
    body = compiled.workflow
    body["metadata"]["labels"].update(IGNORED_BY_ARGO)
    body["metadata"]["ownerReferences"] = [{"apiVersion": API, "kind": "OrchestrationRun",
                                            "name": wf_name, "uid": r["metadata"]["uid"],
                                            "controller": True}]
    wf = kube.create(WORKFLOWS, ns, body)
    reconciler.created[Key(RUN, ns, wf_name)] = (r["metadata"]["uid"], wf["metadata"]["uid"])
    table = {"a": ("Succeeded", ""), "b": ("Failed", "Error (exit code 1)"),
             "c": ("Succeeded", ""), "d": ("Omitted", "omitted: depends condition not met"),
             "e": ("Failed", "Error (exit code 3)"), "f": ("Running", ""),
             "g": ("Error", "pod deleted"), "h": ("Skipped", "when 'false' evaluated false")}
    status: Obj = {"phase": "Running", "startedAt": "2026-01-01T00:00:00Z"}
    node_map = nodes(wf_name, table)
    if compressed:
        status["compressedNodes"] = base64.b64encode(
            gzip.compress(json.dumps(node_map).encode())).decode()
    else:
        status["nodes"] = node_map
    wf["status"] = status
    cluster.kube.resource(WF_API, "Workflow").replace(body=wf, namespace=ns)
    reconciler.reconcile(Key(RUN, ns, wf_name))
    live = kube.get(RUNS, ns, wf_name)
    assert live is not None
    assert step_table(live) == {
        "a": ("Succeeded", None), "b": ("Failed", "StepFailed"), "c": ("Succeeded", None),
        "d": ("Skipped", "DependencyFailed"), "e": ("Failed", "FailureIgnored"),
        "f": ("Running", None), "g": ("Failed", "StepError"),
        "h": ("Skipped", "when 'false' evaluated false")}
    assert {s["name"]: s.get("attempt") for s in live["status"]["stepStatuses"]}["e"] == 2
    assert live["status"]["phase"] == "Running"
    assert live["status"]["workflowRef"]["uid"] == wf["metadata"]["uid"]
    # Status is written only when it changed: a second reconcile writes nothing.
    puts = kube.metrics.api_requests.labels("200", "PUT")._value.get()  # type: ignore[union-attr]
    reconciler.reconcile(Key(RUN, ns, wf_name))
    assert kube.metrics.api_requests.labels("200", "PUT")._value.get() == puts  # type: ignore[union-attr]
    # Offloaded node status: a condition, and the step statuses are left alone.
    wf = cluster.kube.get(WF_API, "Workflow", wf_name, ns) or {}
    wf["status"] = {"phase": "Running", "offloadNodeStatusVersion": "fnv:42"}
    cluster.kube.resource(WF_API, "Workflow").replace(body=wf, namespace=ns)
    reconciler.reconcile(Key(RUN, ns, wf_name))
    offloaded = kube.get(RUNS, ns, wf_name)
    assert offloaded is not None
    assert condition(offloaded, "NodeStatusAvailable")["reason"] == "NodeStatusOffloaded"
    assert step_table(offloaded) == step_table(live)
