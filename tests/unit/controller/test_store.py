"""The watch cache keeps what its readers need, small: views, cold objects
compressed, summaries, tombstones of deleted objects (bounded, expiring)."""

from __future__ import annotations

import copy
import json
import sys
import tracemalloc

from controller.main import run_summary, stores
from controller.mapping import RUN, WORKFLOW, has_ended, is_settled
from controller.mirror import mirror_workflow, workflow_view
from controller.store import LAST_APPLIED, Store, without_bookkeeping
from orchapi.api import Obj
from tests.unit.controller.helpers import compiled, container, node, with_status

NOW = "2026-01-01T00:02:00Z"


def big_workflow(steps: int = 200, phase: str = "Succeeded") -> Obj:
    """A 200-step Workflow as the apiserver returns it: every template, every node
    with the fields Argo writes that the mirror never reads, managedFields."""
    wf = compiled([container(f"step-{i}", [f"step-{i - 1}"] if i else [])
                   for i in range(steps)])
    nodes = []
    for i in range(steps):
        n = node(f"step-{i}", "Succeeded")
        n.update({"hostNodeName": "kwok-node-0", "outputs": {"exitCode": "0"},
                  "progress": "1/1", "resourcesDuration": {"cpu": 1, "memory": 1},
                  "templateScope": "local/run-1"})
        nodes.append(n)
    out = with_status(wf, phase, nodes)
    out["metadata"]["resourceVersion"] = "7"
    out["metadata"]["managedFields"] = [{"manager": "workflow-controller", "fieldsV1": {
        "f:status": {"f:nodes": {f"f:{n['id']}": {"f:phase": {}} for n in nodes}}}}]
    return out


def test_the_view_keeps_what_the_mirror_reads_and_nothing_else() -> None:
    wf = big_workflow()
    view = workflow_view(wf)
    assert mirror_workflow(view, {}, NOW) == mirror_workflow(wf, {}, NOW)
    assert workflow_view(view) == view  # idempotent
    assert "managedFields" not in view["metadata"]
    (template,) = view["spec"]["templates"]
    assert template["name"] == wf["spec"]["entrypoint"]
    assert len(template["dag"]["tasks"]) == 200
    some = next(iter(view["status"]["nodes"].values()))
    assert "outputs" not in some and "hostNodeName" not in some and "phase" in some
    assert len(json.dumps(view)) < 0.75 * len(json.dumps(wf))


def test_an_ended_workflow_is_kept_compressed_and_read_back_whole() -> None:
    store = stores()[WORKFLOW]
    wf = big_workflow()
    view, old = store.put(wf)
    assert old is None
    assert store.stats() == {"hot": 0, "cold": 1, "deleted": 0}
    assert store.get("ns", "run-1") == view
    running = big_workflow(steps=3, phase="Running")
    running["metadata"]["name"] = "run-2"
    store.put(running)
    assert store.stats() == {"hot": 1, "cold": 1, "deleted": 0}
    large = big_workflow(phase="Running")  # large: compressed although it runs
    large["metadata"]["name"] = "run-3"
    view, _ = store.put(large)
    assert store.stats() == {"hot": 1, "cold": 2, "deleted": 0}
    assert store.get("ns", "run-3") == view


def test_a_thousand_waiting_runs_cost_a_bounded_amount_each() -> None:
    """Issue 22: 300 waiting runs of a 200-step Orchestration took the controller
    from 77 to 168 MiB (a dict of 200 step statuses each). A run whose status is
    large is kept compressed even while it waits: 300 cost under 10 KB each."""
    run: Obj = {"apiVersion": "orchestration.proompteng.ai/v1alpha1",
                "kind": "OrchestrationRun",
                "metadata": {"name": "run-1", "namespace": "ns", "uid": "u", "generation": 1,
                             "resourceVersion": "9"},
                "spec": {"orchestrationRef": {"name": "o"}},
                "status": {"phase": "Running", "observedGeneration": 1, "stepStatuses": [
                    {"name": f"step-{i}", "kind": "Container", "phase": "Pending",
                     "message": "", "attempt": 0} for i in range(200)]}}
    text = json.dumps(run)
    runs = stores()[RUN]
    tracemalloc.start()
    for i in range(300):
        runs.put(json.loads(text.replace('"run-1"', f'"run-{i}"')))
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert runs.stats() == {"hot": 0, "cold": 300, "deleted": 0}
    assert held / 300 < 10 * 1024, f"{held / 300:.0f} bytes per waiting run"
    assert runs.summaries()[0] == ("Running", False)
    assert runs.get("ns", "run-7") == json.loads(text.replace('"run-1"', '"run-7"'))


def test_retained_200_step_workflows_and_runs_fit_in_little_memory() -> None:
    """50 retained runs with their Workflows (the benchmark does 1,000 on the real
    cluster): what the caches hold, measured by tracemalloc."""
    wf_text = json.dumps(big_workflow())
    run: Obj = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
                "metadata": {"name": "run-1", "namespace": "ns", "uid": "u", "generation": 1,
                             "resourceVersion": "9"},
                "spec": {"orchestrationRef": {"name": "o"}},
                "status": {"phase": "Succeeded", "observedGeneration": 1, "stepStatuses": [
                    {"name": f"step-{i}", "kind": "Container", "phase": "Succeeded",
                     "message": "", "startedAt": NOW, "finishedAt": NOW, "attempt": 1}
                    for i in range(200)]}}
    run_text = json.dumps(run)
    workflows, runs = stores()[WORKFLOW], stores()[RUN]
    tracemalloc.start()
    for i in range(50):
        workflows.put(json.loads(wf_text.replace('"run-1"', f'"run-{i}"')))
        runs.put(json.loads(run_text.replace('"run-1"', f'"run-{i}"')))
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(workflows) == len(runs) == 50
    # As dicts: ~0.27 MB per viewed Workflow, ~0.2 MB per run (> 20 MiB for 50).
    assert held < 2 * 2**20, f"{held / 2**20:.1f} MiB for 50 runs and Workflows"
    assert runs.summaries()[0] == ("Succeeded", True)
    print(f"50 retained 200-step runs + Workflows: {held / 2**20:.2f} MiB", file=sys.stderr)


def test_tombstones_keep_the_last_state_bounded_and_expiring() -> None:
    clock = [0.0]
    store = Store(view=workflow_view, keep_deleted=True, clock=lambda: clock[0],
                  tombstone_ttl=60.0, tombstone_max=2)
    wf = big_workflow()
    store.put(wf)
    final = copy.deepcopy(wf)
    final["status"]["message"] = "the DELETED event carries the final state"
    last = store.delete(("ns", "run-1"), final)
    assert last == workflow_view(final)
    assert store.get("ns", "run-1") is None
    assert store.deleted("ns", "run-1") == workflow_view(final)
    store.forget_deleted("ns", "run-1", "another-uid")  # another incarnation's: kept
    assert store.deleted("ns", "run-1") is not None
    store.forget_deleted("ns", "run-1", "wf-uid")
    assert store.deleted("ns", "run-1") is None
    for i in range(3):  # bounded: the oldest goes first
        w = copy.deepcopy(wf)
        w["metadata"]["name"] = f"w{i}"
        store.put(w)
        store.delete(("ns", f"w{i}"))
    assert [store.deleted("ns", f"w{i}") is None for i in range(3)] == [True, False, False]
    clock[0] += 61.0
    assert store.deleted("ns", "w2") is None  # expired
    w = copy.deepcopy(wf)
    w["metadata"]["name"] = "w3"
    store.put(w)
    store.delete(("ns", "w3"))
    store.put(w)  # re-created: the tombstone goes
    assert store.deleted("ns", "w3") is None


def test_bookkeeping_is_dropped_from_every_cached_object() -> None:
    obj: Obj = {"metadata": {"name": "x", "namespace": "ns", "managedFields": [{}],
                             "annotations": {LAST_APPLIED: "{...}", "keep": "me"}},
                "spec": {}}
    assert without_bookkeeping(obj) == {"metadata": {"name": "x", "namespace": "ns",
                                                     "annotations": {"keep": "me"}},
                                        "spec": {}}


def test_summaries_and_settledness() -> None:
    done = {"metadata": {"generation": 2}, "status": {"phase": "Failed",
                                                     "observedGeneration": 2}}
    assert is_settled(done) and run_summary(done) == ("Failed", True)
    assert not is_settled({**done, "metadata": {"generation": 3}})  # spec.cancel changed
    assert not is_settled({"metadata": {}, "status": {"phase": "Running"}})
    assert has_ended({"status": {"phase": "Error"}}) and not has_ended({"status": {}})


def test_an_informer_keeps_the_last_state_of_a_workflow_deleted_right_after_it_ended() -> None:
    """Watch events as the apiserver sends them (no cluster: the events are applied
    directly): the DELETED event's object is the Workflow's final state."""
    from controller.watch import Informer
    from orchapi.api import WORKFLOWS

    seen: list[tuple[str, str | None]] = []
    informer = Informer(None, WORKFLOWS, "ns",  # type: ignore[arg-type]
                        lambda kind, obj: seen.append((kind, obj["status"].get("phase"))),
                        store=stores()[WORKFLOW])
    running, ended = big_workflow(phase="Running"), big_workflow(phase="Failed")
    ended["metadata"]["resourceVersion"] = "8"
    informer._apply({"type": "ADDED", "object": running})
    informer._apply({"type": "MODIFIED", "object": copy.deepcopy(ended)})
    informer._apply({"type": "DELETED", "object": copy.deepcopy(ended)})
    assert seen == [("ADDED", "Running"), ("MODIFIED", "Failed"), ("DELETED", "Failed")]
    assert informer.get("ns", "run-1") is None
    assert informer.store.deleted("ns", "run-1") == workflow_view(ended)
    assert informer.store.stats() == {"hot": 0, "cold": 0, "deleted": 1}
