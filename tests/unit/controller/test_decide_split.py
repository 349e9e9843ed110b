"""`controller.decide` for a run split into several Workflows (contract §8,
docs/scale.md phase 2): the set recorded first, each Workflow created once under
its fixed name, adopted only when the controller created it, mirrored into one
evaluation, its gates released, the others stopped when one ends early; each
rule a named test, and the creation as a property over lost writes and restarts."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from controller.decide import (
    CancelWorkflows,
    Created,
    CreateWorkflows,
    DeleteWorkflow,
    Done,
    Fetch,
    Need,
    Observed,
    RecordWorkflows,
    ReleaseFinalizers,
    ReleaseGates,
    Requeue,
    StopWorkflows,
    Submission,
    WriteStatus,
    decide,
)
from controller.seal import Sealer
from orchapi.api import Obj
from tests.unit.controller.split_helpers import API, RUN, RUN_UID, split_run, with_nodes

NOW = "2026-01-01T00:02:00Z"
SEALER = Sealer(b"\x02" * 32)
SPLIT = split_run()
NAMES = [w["metadata"]["name"] for w in SPLIT.workflows]
UIDS = [w["metadata"]["uid"] for w in SPLIT.workflows]
ORCH: Obj = {"apiVersion": API, "kind": "Orchestration",
             "metadata": {"name": "o", "namespace": "ns", "uid": "o-uid", "generation": 3},
             "spec": {"steps": []}}
SUBMISSION = Submission(SPLIT.workflows[0], split=SPLIT.workflows)
RECORDED: Obj = {"phase": "Pending", "orchestrationGeneration": 3,
                 "workflows": [{"name": n} for n in NAMES]}
CREATED: Obj = {**RECORDED, "phase": "Running",
                "workflows": [{"name": n, "namespace": "ns", "uid": u}
                              for n, u in zip(NAMES, UIDS, strict=True)]}


def run(status: Obj | None = None, *, cancel: bool = False, **meta: Any) -> Obj:
    r: Obj = {"apiVersion": API, "kind": "OrchestrationRun",
              "metadata": {"name": RUN, "namespace": "ns", "uid": RUN_UID, "generation": 1,
                           **meta},
              "spec": {"orchestrationRef": {"name": "o"}, **({"cancel": True} if cancel
                                                              else {})},
              "status": status or {}}
    if status:
        r["status"] = SEALER.seal(r, status)
    return r


def observed(r: Obj, created: tuple[str, ...] = (), **facts: Any) -> Observed:
    return Observed(run=r, now=NOW, trust=SEALER.trust(r, created), **facts)


def running(*phases: dict[str, str]) -> dict[str, Obj]:
    return {wf["metadata"]["name"]: with_nodes(wf, p)
            for wf, p in zip(SPLIT.workflows, phases, strict=True)}


def test_a_new_split_run_records_its_set_before_creating_any() -> None:
    o = observed(run(), run_live=True, orchestration=ORCH, orchestration_live=True,
                 submission=SUBMISSION)
    action = decide(o)
    assert isinstance(action, RecordWorkflows)
    assert action.status["workflows"] == [{"name": n} for n in NAMES]
    assert action.status["orchestrationGeneration"] == 3


def test_the_recorded_set_is_looked_up_live_then_created() -> None:
    r = run(RECORDED)
    assert decide(observed(r)) == Fetch(Need.PARTS)  # a cache miss is no proof
    o = observed(r, parts_live=True)
    assert decide(o) == Fetch(Need.RUN)
    o = replace(o, run_live=True)
    assert decide(o) == Fetch(Need.ORCHESTRATION)
    o = replace(o, orchestration=ORCH, orchestration_live=True)
    assert decide(o) == Fetch(Need.SUBMISSION)
    o = replace(o, submission=SUBMISSION)
    assert decide(o) == CreateWorkflows(SPLIT.workflows)


def test_only_the_missing_ones_are_created() -> None:
    r = run(RECORDED)
    o = observed(r, (UIDS[0],), parts={NAMES[0]: SPLIT.workflows[0]}, parts_live=True,
                 run_live=True, orchestration=ORCH, orchestration_live=True,
                 submission=SUBMISSION)
    assert decide(o) == CreateWorkflows(SPLIT.workflows[1:])


def test_once_all_exist_the_status_records_each_uid() -> None:
    r = run(RECORDED)
    o = observed(r, tuple(UIDS), parts=running({}, {}, {}), parts_live=True)
    action = decide(o)
    assert isinstance(action, WriteStatus)
    assert action.status["workflows"] == CREATED["workflows"]
    assert "workflowRef" not in action.status
    assert action.status["phase"] == "Running" and action.status["progress"] == "0/8"


def test_a_workflow_that_names_the_run_but_was_not_created_by_it_is_deleted() -> None:
    """A forged ownerReference (or a create whose record was lost): never adopted."""
    r = run(RECORDED)
    o = observed(r, parts={NAMES[1]: SPLIT.workflows[1]}, parts_live=True)
    assert decide(o) == Fetch(Need.RUN)
    action = decide(replace(o, run_live=True))
    assert isinstance(action, DeleteWorkflow) and action.propagation == "Foreground"
    assert action.workflow["metadata"]["name"] == NAMES[1]


def test_someone_elses_workflow_under_a_recorded_name_is_never_adopted() -> None:
    other = copy.deepcopy(SPLIT.workflows[2])
    other["metadata"]["ownerReferences"][0]["uid"] = "another-run"
    o = observed(run(RECORDED), run_live=True, parts={NAMES[2]: other}, parts_live=True)
    action = decide(o)
    assert isinstance(action, WriteStatus)
    (submitted,) = [c for c in action.status["conditions"] if c["type"] == "Submitted"]
    assert (submitted["status"], submitted["reason"]) == ("False", "WorkflowNotOwned")


def test_a_status_not_sealed_by_the_controller_trusts_no_workflow() -> None:
    r = run(CREATED)
    r["status"]["seal"] = "v1.forged"
    action = decide(observed(r, parts=running({}, {}, {}), parts_live=True, run_live=True,
                             orchestration=ORCH, orchestration_live=True,
                             submission=SUBMISSION))
    # Read as if nothing were written: a new run, its set recorded again (the
    # same names: creating them then finds them, and never adopts them unsealed).
    assert isinstance(action, RecordWorkflows)


def test_gates_are_released_after_the_mirror() -> None:
    parts = running({"a": "Succeeded", "b": "Succeeded", "f": "Running"}, {}, {})
    action = decide(observed(run(CREATED), parts=parts))
    assert isinstance(action, ReleaseGates)
    ((wf, releases),) = action.gates
    assert wf["metadata"]["name"] == NAMES[1]
    assert [(r.step, r.phase) for r in releases] == [("orch-gate-1", "Succeeded")]


def test_a_deleted_workflow_ends_the_run_and_stops_the_others() -> None:
    parts = running({"a": "Running"}, {}, {})
    gone = parts.pop(NAMES[2])
    action = decide(observed(run(CREATED), parts=parts, parts_gone={NAMES[2]: gone}))
    assert isinstance(action, StopWorkflows)
    assert [w["metadata"]["name"] for w in action.workflows] == NAMES[:2]


def test_a_workflow_that_cannot_be_made_again_ends_the_run() -> None:
    """The Orchestration changed between recording the set and creating the last
    one (a crash between): the same Workflow cannot be compiled again."""
    r = run(RECORDED)
    changed = {**ORCH, "metadata": {**ORCH["metadata"], "generation": 4}}
    parts = running({}, {}, {})
    del parts[NAMES[2]]
    o = observed(r, tuple(UIDS[:2]), parts=parts, parts_live=True, run_live=True,
                 orchestration=changed, orchestration_live=True)
    action = decide(o)
    assert isinstance(action, StopWorkflows)
    assert [w["metadata"]["name"] for w in action.workflows] == NAMES[:2]


def test_a_cancel_stops_every_workflow() -> None:
    r = run(CREATED, cancel=True)
    o = observed(r, parts=running({"a": "Running"}, {}, {}))
    assert decide(o) == Fetch(Need.CREATED)
    action = decide(replace(o, created=Created()))
    assert isinstance(action, CancelWorkflows)
    assert [(w["metadata"]["name"], p.stop_workflow) for w, p in action.plans] == [
        (n, True) for n in NAMES]


def test_an_ended_split_run_changes_nothing() -> None:
    r = run({**CREATED, "phase": "Succeeded", "observedGeneration": 1})
    assert isinstance(decide(observed(r, parts=running({}, {}, {}))), Done)
    # a new generation (a re-apply of spec.cancel): observed, nothing else moves
    bumped = run({**CREATED, "phase": "Succeeded", "observedGeneration": 1}, generation=2)
    assert decide(observed(bumped, parts=running({}, {}, {}))) == WriteStatus(
        {**CREATED, "phase": "Succeeded", "observedGeneration": 2})


@settings(max_examples=60, deadline=None)
@given(hs.lists(hs.sampled_from(["restart", "lose-write", "step"]), max_size=12))
def test_never_a_second_set(history: list[str]) -> None:
    """Whatever restarts (the process forgets what it created) and lost status
    writes happen while the set is created, every name is created at most once
    per incarnation, and a Workflow is mirrored only when the controller made it."""
    cluster: dict[str, Obj] = {}  # name -> the Workflow the apiserver holds
    status: Obj = {}
    created: set[str] = set()  # uids this process made (forgotten on a restart)
    creates: dict[str, int] = {}
    serial = 0
    for event in [*history, "step", "step", "step", "step", "step", "step"]:
        if event == "restart":
            created = set()
            continue
        r = run(status) if status else run()
        o = observed(r, tuple(created), parts=dict(cluster), parts_live=True, run_live=True,
                     orchestration=ORCH, orchestration_live=True, submission=SUBMISSION)
        for _ in range(8):
            action = decide(o)
            if isinstance(action, RecordWorkflows):
                status = {k: v for k, v in action.status.items() if k != "seal"}
                r = run(status)
                o = replace(o, run=r, trust=SEALER.trust(r, tuple(created)))
            elif isinstance(action, CreateWorkflows):
                for body in action.workflows:
                    name = body["metadata"]["name"]
                    assert name not in cluster, f"{name} created over itself"
                    serial += 1
                    wf = copy.deepcopy(body)
                    wf["metadata"]["uid"] = f"uid-{serial}"
                    cluster[name] = wf
                    created.add(wf["metadata"]["uid"])
                    creates[name] = creates.get(name, 0) + 1
                o = replace(o, parts=dict(cluster), trust=SEALER.trust(r, tuple(created)))
            elif isinstance(action, DeleteWorkflow):
                del cluster[action.workflow["metadata"]["name"]]
                break
            elif isinstance(action, WriteStatus):
                if event != "lose-write":
                    status = {k: v for k, v in action.status.items() if k != "seal"}
                break
            else:
                break
    assert set(cluster) <= set(NAMES)
    if status.get("workflows") and all(w.get("uid") for w in status["workflows"]):
        assert {w["uid"] for w in status["workflows"]} == {
            w["metadata"]["uid"] for w in cluster.values()}


def test_the_status_of_a_split_run_fits_its_budget() -> None:
    """Contract §8: every step while the records fit 256 KiB; past it, every step
    that has not succeeded, and `stepCounts` counting all of them."""
    from controller.mirror import Mirror
    from controller.status import mirrored_split
    from controller.step_budget import STEP_STATUS_BUDGET, record_size

    def records(n: int, failed: int) -> list[Obj]:
        return [{"name": f"s{i}", "kind": "Container",
                 "phase": "Failed" if i < failed else "Succeeded",
                 **({"reason": "StepFailed"} if i < failed else {}),
                 "message": "x" * 100, "startedAt": "2026-01-01T00:00:00Z"}
                for i in range(n)]

    refs = CREATED["workflows"]
    small = mirrored_split({}, Mirror("Running", records(100, 1), (), "100/100"), refs, 1, NOW)
    assert len(small["stepStatuses"]) == 100 and "stepCounts" not in small
    big = mirrored_split(small, Mirror("Failed", records(3000, 2), (), "3000/3000"), refs, 1,
                         NOW)
    assert sum(record_size(s) for s in records(3000, 2)) > STEP_STATUS_BUDGET
    assert [s["name"] for s in big["stepStatuses"]] == ["s0", "s1"]
    assert big["stepCounts"] == [{"phase": "Succeeded", "count": 2998},
                                 {"phase": "Failed", "reason": "StepFailed", "count": 2}]
    assert big["workflows"] == refs and big["progress"] == "3000/3000"


def finalized(workflows: dict[str, Obj]) -> dict[str, Obj]:
    from orchapi.api import RUN_ACTIVE_FINALIZER

    return {n: {**w, "metadata": {**w["metadata"], "finalizers": [RUN_ACTIVE_FINALIZER]}}
            for n, w in workflows.items()}


def test_the_finalizers_go_before_the_final_status_and_not_before() -> None:
    """Each Workflow of a split run holds a finalizer while the run is active, so
    Argo's TTL cannot delete the record of its steps under it (docs/scale.md)."""
    gates = {("a", "f"): "Succeeded", ("b",): "Succeeded", ("g",): "Succeeded",
             ("c",): "Succeeded", ("d",): "Succeeded"}
    ended = {wf["metadata"]["name"]: with_nodes(
        wf, {n: "Succeeded" for n in "abcdefgh"}, phase="Succeeded", gates=gates,
        finished="2026-01-01T00:01:00Z") for wf in SPLIT.workflows}
    r = run(CREATED)
    action = decide(observed(r, parts=finalized(ended)))
    assert isinstance(action, ReleaseFinalizers)
    assert [w["metadata"]["name"] for w in action.workflows] == NAMES
    action = decide(observed(r, parts=ended))
    assert isinstance(action, WriteStatus) and action.status["phase"] == "Succeeded"
    # While it runs they stay; an ended run that still has one lets it go.
    assert not isinstance(decide(observed(r, parts=finalized(running({}, {}, {})))),
                          ReleaseFinalizers)
    done = run({**CREATED, "phase": "Succeeded"})
    assert isinstance(decide(observed(done, parts=finalized(ended))), ReleaseFinalizers)


def test_a_resumed_run_reuses_what_a_budgeted_old_status_proves_succeeded() -> None:
    """Contract §3 resume over §8's budget: the old run lists only the steps that
    did not succeed; when they add up to its counts, every other step succeeded
    and is reused (its times from the old run's Workflows while they exist)."""
    import json

    from controller.resuming import Resumed, plan_resumption
    from controller.submission import own_records
    from orchapi.api import REUSED_RECORDS_ANNOTATION

    old: Obj = {"metadata": {"name": "old", "namespace": "ns", "uid": RUN_UID},
                "spec": {"orchestrationRef": {"name": "o"}},
                "status": {"phase": "Failed", "orchestrationGeneration": 3,
                           "stepStatuses": [{"name": "c", "kind": "Container",
                                             "phase": "Failed", "reason": "StepFailed"},
                                            {"name": "d", "kind": "Container",
                                             "phase": "Skipped", "reason": "DependencyFailed"},
                                            {"name": "e", "kind": "Container",
                                             "phase": "Skipped", "reason": "DependencyFailed"}],
                           "stepCounts": [{"phase": "Succeeded", "count": 5},
                                          {"phase": "Failed", "reason": "StepFailed",
                                           "count": 1},
                                          {"phase": "Skipped", "reason": "DependencyFailed",
                                           "count": 2}]}}
    new: Obj = {"metadata": {"name": "new", "namespace": "ns"},
                "spec": {"orchestrationRef": {"name": "o"}, "resumeFrom": {"name": "old"}}}
    old_workflows = [with_nodes(SPLIT.workflows[0], {"a": "Succeeded", "b": "Succeeded"})]
    resumed = plan_resumption(new, ORCH, SPLIT.graph, old, old_workflows)
    assert isinstance(resumed, Resumed)
    assert resumed.reused == frozenset("abfgh")
    records = {r["name"]: r for r in json.loads(
        resumed.annotations[REUSED_RECORDS_ANNOTATION])}
    assert records["a"]["finishedAt"] == "2026-01-01T00:00:05Z"
    assert "finishedAt" not in records["f"]  # its Workflow is gone: only its name
    # Each Workflow carries the records of its own steps only.
    own = json.loads(own_records(resumed.annotations, {"a", "c"})[REUSED_RECORDS_ANNOTATION])
    assert [r["name"] for r in own] == ["a"]
    # A short list (more did not succeed than it lists) proves nothing: all rerun.
    short = copy.deepcopy(old)
    short["status"]["stepCounts"][1]["count"] = 2
    resumed = plan_resumption(new, ORCH, SPLIT.graph, short, old_workflows)
    assert isinstance(resumed, Resumed) and resumed.reused == frozenset()
    # Every step succeeded: the status lists none, and the run is still resumable.
    done = copy.deepcopy(old)
    done["status"].update(phase="Succeeded", stepStatuses=[],
                          stepCounts=[{"phase": "Succeeded", "count": 8}])
    resumed = plan_resumption({**new, "spec": {**new["spec"], "resumeFrom": {
        "name": "old", "rerun": ["h"]}}}, ORCH, SPLIT.graph, done)
    assert isinstance(resumed, Resumed) and resumed.reused == frozenset("abcdefg")


def test_a_wait_in_any_workflow_of_a_split_run_is_decided_and_released() -> None:
    """An ApprovalGate in a split run is decided as in one Workflow (contract §4):
    from its policy, here approved, and released with the gates of its Workflow."""
    from tests.unit.controller.helpers import container

    steps = [container("a", []), container("b", ["a"]), container("c", ["b"]),
             container("d", ["c"]), container("e", ["d"]),
             {"name": "f", "kind": "ApprovalGate", "policyRef": "ok", "dependsOn": []},
             container("g", ["a", "f"]), container("h", ["g"])]
    split = split_run(steps)
    names = [w["metadata"]["name"] for w in split.workflows]
    parts = {wf["metadata"]["name"]: with_nodes(wf, {"a": "Running", "f": "Running"})
             for wf in split.workflows}
    # f's node: a suspend node carrying its wait, as Argo records it.
    holder = next(n for n, wf in parts.items() if any(
        nd.get("displayName") == "f" for nd in wf["status"]["nodes"].values()))
    for node in parts[holder]["status"]["nodes"].values():
        if node["displayName"] == "f":
            task = next(t for tpl in parts[holder]["spec"]["templates"] if "dag" in tpl
                        for t in tpl["dag"]["tasks"] if t["name"] == "f")
            node.update(type="Suspend", inputs={"parameters": task["arguments"]["parameters"]})
    status = {**RECORDED, "phase": "Running",
              "workflows": [{"name": n, "namespace": "ns", "uid": w["metadata"]["uid"]}
                            for n, w in zip(names, split.workflows, strict=True)]}
    o = observed(run(status), parts=parts)
    assert decide(o) == Fetch(Need.WAITS)
    from controller.waits import WaitFacts

    approved = {"metadata": {"name": "ok"}, "status": {"phase": "Approved"}}
    action = decide(replace(o, waits=WaitFacts({"ok": approved}, {})))
    assert isinstance(action, ReleaseGates)
    assert [(wf["metadata"]["name"], [(r.step, r.phase) for r in rs])
            for wf, rs in action.gates] == [(holder, [("f", "Succeeded")])]


def test_the_submitted_event_of_a_split_run_names_its_workflows() -> None:
    from controller.events import events_for

    new = {"workflows": CREATED["workflows"], "conditions": [
        {"type": "Submitted", "status": "True", "reason": "WorkflowCreated"}]}
    (event,) = events_for({}, new)
    assert event.message == "3 Workflows run-1-1 to run-1-3 submitted (a split run)"


def test_one_round_of_releases_per_reconcile_then_the_status() -> None:
    """A big run keeps ending sources: after one round of releases the status is
    written and the run looked at again at once, never a loop of rounds that keeps
    the status from being written."""
    parts = running({"a": "Succeeded", "b": "Succeeded", "f": "Running"}, {}, {})
    o = observed(run(CREATED), parts=parts)
    assert isinstance(decide(o), ReleaseGates)
    action = decide(replace(o, released=True))
    assert isinstance(action, WriteStatus) and action.requeue == Requeue(0.0)


def test_a_round_writes_a_bounded_number_of_workflows(monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    """Seen at 10,000 steps (60 Workflows): a round writing every Workflow whose
    gates could pass took ~50 s on a loaded cluster and was fenced by a lost Lease
    before the status was written, again and again."""
    from controller import decide as decide_module

    parts = running({"a": "Succeeded", "b": "Succeeded", "f": "Succeeded"}, {}, {})
    o = observed(run(CREATED), parts=parts)
    both = decide(o)
    assert isinstance(both, ReleaseGates) and len(both.gates) == 2
    monkeypatch.setattr(decide_module, "RELEASE_WRITES", 1)
    one = decide(o)
    assert isinstance(one, ReleaseGates) and len(one.gates) == 1
    action = decide(replace(o, released=True))
    assert isinstance(action, WriteStatus) and action.requeue == Requeue(0.0)
