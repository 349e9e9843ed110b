"""`controller.decide` without a cluster: one row per case of contract §5, and each
safety rule as a named test, then as a property over generated observations and
over simulated reconcile histories with stale caches.

Every Workflow here is the real compiler's (tests.unit.controller.helpers) with
Argo-shaped node statuses written by hand; the e2e tests check the same against
the real Argo.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from controller.decide import (
    NOT_OWNED_RECHECK,
    SUBMIT_RETRY_BASE,
    Action,
    Create,
    CreateRefused,
    DeleteWorkflow,
    Done,
    Fetch,
    Need,
    Observed,
    OwnerState,
    Requeue,
    Submission,
    WriteStatus,
    decide,
    decide_orphan,
)
from controller.mapping import controller_owner
from controller.seal import Sealer, Trust
from controller.status import MAX_STEP_MESSAGE
from orchapi.api import Obj
from orchapi.vocabulary import RUN_DONE
from tests.unit.controller.helpers import WF, compiled, container, node, with_status

NOW = "2026-01-01T00:02:00Z"
RUN_UID = "run-uid"
API = "orchestration.proompteng.ai/v1alpha1"

#   a
#  / \
# b   c
#  \ /
#   d
DIAMOND = [container("a", []), container("b", ["a"]), container("c", ["a"]),
           container("d", ["b", "c"])]
ORCH: Obj = {"apiVersion": API, "kind": "Orchestration",
             "metadata": {"name": "o", "namespace": "ns", "uid": "o-uid", "generation": 3},
             "spec": {"steps": DIAMOND}}


# The controller's key in these tests: a status given to `run` is one the controller
# wrote (sealed) unless `sealed=False`; the Workflow `wf-uid` is one it created.
SEALER = Sealer(b"\x01" * 32)
CREATED = ("wf-uid",)


def run(status: Obj | None = None, *, sealed: bool = True, **meta: Any) -> Obj:
    r = {"apiVersion": API, "kind": "OrchestrationRun",
         "metadata": {"name": WF, "namespace": "ns", "uid": RUN_UID, "generation": 1, **meta},
         "spec": {"orchestrationRef": {"name": "o"}}, "status": status or {}}
    if sealed and status:
        r["status"] = SEALER.seal(r, status)
    return r


def trust_of(r: Obj, created: tuple[str, ...] = CREATED) -> Trust:
    """What the executor gives decide for `r` (controller.reconcile._trusted)."""
    return SEALER.trust(r, created)


def owned(wf: Obj, uid: str = RUN_UID, name: str = WF) -> Obj:
    """`wf` controlled by the run with that uid (another run's Workflow has its own uid)."""
    out = copy.deepcopy(wf)
    if uid != RUN_UID:
        out["metadata"]["uid"] = f"wf-of-{uid}"
    out["metadata"]["ownerReferences"] = [{"apiVersion": API, "kind": "OrchestrationRun",
                                           "name": name, "uid": uid, "controller": True}]
    return out


BODY = owned(compiled(DIAMOND))
RUNNING = owned(with_status(compiled(DIAMOND), "Running", [
    node("a", "Succeeded"), node("b", "Running"), node("c", "Running")]))
FAILED = owned(with_status(compiled(DIAMOND), "Failed", [
    node("a", "Succeeded"), node("b", "Failed", message="Error (exit code 1)"),
    node("c", "Succeeded"), node("d", "Omitted", message="omitted: depends condition not met")]))
SUCCEEDED = owned(with_status(compiled(DIAMOND), "Succeeded", [
    node(n, "Succeeded") for n in "abcd"]))
SUBMITTED: Obj = {"workflowRef": {"name": WF, "namespace": "ns", "uid": "wf-uid"},
                  "phase": "Running", "startedAt": "2026-01-01T00:00:00Z"}
FINAL: Obj = {**SUBMITTED, "phase": "Succeeded", "finishedAt": "2026-01-01T00:01:00Z",
              "observedGeneration": 1}
LIVE = {"run_live": True}
READY = {"run_live": True, "orchestration": ORCH, "orchestration_live": True,
         "submission": Submission(BODY)}


def observed(r: Obj, **facts: Any) -> Observed:
    facts.setdefault("trust", trust_of(r))
    return Observed(run=r, now=NOW, **facts)


def cond(status: Obj, type_: str) -> tuple[str, str]:
    for c in status.get("conditions") or ():
        if c["type"] == type_:
            return c["status"], c["reason"]
    raise AssertionError(f"no {type_} in {status}")


def table(status: Obj) -> dict[str, tuple[str, str | None]]:
    return {s["name"]: (s["phase"], s.get("reason")) for s in status.get("stepStatuses") or ()}


# -- one row per case ------------------------------------------------------------------
ROWS = [
    pytest.param(observed(run()), Fetch(Need.RUN), id="new-run-is-read-live-before-anything"),
    pytest.param(observed(run(), **LIVE), Fetch(Need.ORCHESTRATION),
                 id="orchestration-cache-miss-is-confirmed-live"),
    pytest.param(observed(run(), run_live=True, orchestration=ORCH), Fetch(Need.ORCHESTRATION),
                 id="orchestration-in-the-cache-is-read-live-before-compiling"),
    pytest.param(observed(run(), run_live=True, orchestration=ORCH, orchestration_live=True),
                 Fetch(Need.SUBMISSION), id="orchestration-read-live-compile-next"),
    pytest.param(observed(run(), **READY), Create(BODY), id="everything-known-create"),
    pytest.param(observed(run(SUBMITTED)), Fetch(Need.WORKFLOW),
                 id="submitted-workflow-not-in-cache-is-confirmed-live"),
    pytest.param(observed(run(FINAL), workflow_live=True), Done("ended; its Workflow is gone"),
                 id="ended-run-whose-workflow-is-gone-changes-nothing"),
    pytest.param(observed(run(FINAL, generation=2), workflow_live=True),
                 WriteStatus({**FINAL, "observedGeneration": 2}),
                 id="ended-run-whose-workflow-is-gone-only-observes-a-new-generation"),
    pytest.param(observed(run({"phase": "Failed", "observedGeneration": 1})),
                 Done("ended before submission (terminal)"),
                 id="refused-before-submission-is-terminal"),
    pytest.param(observed(run(deletionTimestamp="2026-01-01T00:00:00Z"), **READY),
                 Done("being deleted: never submitted"), id="run-being-deleted"),
    pytest.param(observed(run(), workflow=owned(RUNNING, uid="old-uid")), Fetch(Need.OWNER),
                 id="workflow-of-an-earlier-run-of-this-name-owner-unknown"),
]


@pytest.mark.parametrize(("o", "expected"), ROWS)
def test_row(o: Observed, expected: Action) -> None:
    assert decide(o) == expected


def test_orchestration_not_found_fails_the_run_and_submits_nothing() -> None:
    action = decide(observed(run(), run_live=True, orchestration_live=True))
    assert isinstance(action, WriteStatus)
    assert action.status["phase"] == "Failed"
    assert cond(action.status, "Submitted") == ("False", "OrchestrationNotFound")
    assert cond(action.status, "Succeeded") == ("False", "OrchestrationNotFound")
    assert action.requeue is None


@pytest.mark.parametrize("reason", ["OrchestrationInvalid", "WorkflowTooLarge"])
def test_a_refused_submission_fails_the_run(reason: str) -> None:
    o = observed(run(), run_live=True, orchestration=ORCH, orchestration_live=True,
                 submission=Submission(None, reason, "why, in full"))
    action = decide(o)
    assert isinstance(action, WriteStatus)
    assert action.status["phase"] == "Failed"
    submitted = next(c for c in action.status["conditions"] if c["type"] == "Submitted")
    assert (submitted["status"], submitted["reason"], submitted["message"]) == (
        "False", reason, "why, in full")


def test_our_workflow_is_mirrored() -> None:
    action = decide(observed(run(), workflow=RUNNING))
    assert isinstance(action, WriteStatus)
    s = action.status
    assert (s["phase"], s["progress"]) == ("Running", "1/4")
    assert s["workflowRef"] == {"name": WF, "namespace": "ns", "uid": "wf-uid"}
    assert cond(s, "Submitted") == ("True", "WorkflowCreated")
    assert cond(s, "Succeeded") == ("Unknown", "Running")
    assert s["startedAt"] == "2026-01-01T00:00:00Z"


def test_an_ended_workflow_ends_the_run_per_the_semantics() -> None:
    action = decide(observed(run(SUBMITTED), workflow=FAILED))
    assert isinstance(action, WriteStatus)
    assert action.status["phase"] == "Failed"
    assert table(action.status) == {"a": ("Succeeded", None), "b": ("Failed", "StepFailed"),
                                    "c": ("Succeeded", None),
                                    "d": ("Skipped", "DependencyFailed")}
    assert cond(action.status, "Succeeded") == ("False", "StepsFailed")


def test_workflow_of_a_gone_earlier_run_is_deleted_in_the_foreground_with_backoff() -> None:
    old = owned(RUNNING, uid="old-uid")
    action = decide(observed(run(), workflow=old, owner=OwnerState.GONE))
    assert action == DeleteWorkflow(old, "Foreground", Requeue(1.0, backoff=True))


def test_workflow_deleted_by_someone_else_ends_the_run() -> None:
    last = {**SUBMITTED, "progress": "1/4", "stepStatuses": [
        {"name": "a", "kind": "Container", "phase": "Succeeded", "message": ""},
        {"name": "b", "kind": "Container", "phase": "Running", "message": ""},
        {"name": "c", "kind": "Container", "phase": "Pending", "message": ""},
        {"name": "d", "kind": "Container", "phase": "Pending", "message": ""}]}
    action = decide(observed(run(last), workflow_live=True))
    assert isinstance(action, WriteStatus)
    s = action.status
    assert s["phase"] == "Failed"
    assert cond(s, "Submitted") == ("False", "WorkflowDeleted")
    assert cond(s, "Succeeded") == ("False", "WorkflowEnded")
    assert table(s) == {"a": ("Succeeded", None), "b": ("Failed", "WorkflowEnded"),
                        "c": ("Skipped", "WorkflowEnded"), "d": ("Skipped", "WorkflowEnded")}
    assert s["workflowRef"] == SUBMITTED["workflowRef"]


# -- the safety rules, each named ---------------------------------------------------------
def test_never_submit_twice_even_when_the_workflow_is_gone() -> None:
    for facts in ({}, LIVE, READY, {**READY, "workflow_live": True}):
        assert not isinstance(decide(observed(run(SUBMITTED), **facts)), Create)


def test_never_submit_from_a_cache_read() -> None:
    # everything known and compiled, but one object only from the cache: it is read
    # live before anything is created (the rows above have no submission yet)
    assert decide(observed(run(), **{**READY, "run_live": False})) == Fetch(Need.RUN)
    assert decide(observed(run(), **{**READY, "orchestration_live": False})) == \
        Fetch(Need.ORCHESTRATION)


def test_never_adopt_a_workflow_we_do_not_own() -> None:
    someone = owned(RUNNING, uid="other-uid", name="other-run")
    no_owner = copy.deepcopy(RUNNING)
    del no_owner["metadata"]["ownerReferences"]
    for wf in (someone, no_owner):
        action = decide(observed(run(), workflow=wf, **READY))
        assert isinstance(action, WriteStatus)
        assert "workflowRef" not in action.status
        assert action.status["phase"] == "Pending"
        assert cond(action.status, "Submitted") == ("False", "WorkflowNotOwned")
        assert action.requeue == Requeue(NOT_OWNED_RECHECK)


def test_a_run_being_deleted_is_never_submitted() -> None:
    # facts that create a Workflow for a live run, its absence confirmed live (the
    # row above has READY alone)
    facts = {**READY, "workflow_live": True}
    assert isinstance(decide(observed(run(), **facts)), Create)
    deleting = run(deletionTimestamp="2026-01-01T00:00:00Z")
    assert decide(observed(deleting, **facts)) == Done("being deleted: never submitted")


def test_a_refused_create_is_shown_and_retried_with_backoff() -> None:
    quota = ('exceeded quota: q, requested: count/workflows.argoproj.io=1, used: '
             'count/workflows.argoproj.io=0, limited: count/workflows.argoproj.io=0')
    o = observed(run({"runId": "r-1"}), **READY,
                 refused=CreateRefused(403, "Forbidden", quota))
    action = decide(o)
    assert isinstance(action, WriteStatus)
    assert action.requeue == Requeue(SUBMIT_RETRY_BASE, backoff=True)
    s = action.status
    assert s["phase"] == "Pending" and s["runId"] == "r-1"
    submitted = next(c for c in s["conditions"] if c["type"] == "Submitted")
    assert (submitted["status"], submitted["reason"]) == ("False", "WorkflowCreateFailed")
    assert quota in submitted["message"] and "403 Forbidden" in submitted["message"]


def test_a_workflow_deleted_after_it_ended_keeps_its_result() -> None:
    action = decide(observed(run(SUBMITTED), last_seen=FAILED))
    assert isinstance(action, WriteStatus)
    s = action.status
    assert s["phase"] == "Failed"
    assert cond(s, "Succeeded") == ("False", "StepsFailed")  # not WorkflowEnded
    assert cond(s, "Submitted") == ("True", "WorkflowCreated")
    assert table(s) == {"a": ("Succeeded", None), "b": ("Failed", "StepFailed"),
                        "c": ("Succeeded", None), "d": ("Skipped", "DependencyFailed")}
    ok = decide(observed(run(SUBMITTED), last_seen=SUCCEEDED))
    assert isinstance(ok, WriteStatus)
    assert ok.status["phase"] == "Succeeded"
    assert cond(ok.status, "Succeeded") == ("True", "AllStepsSucceeded")


def test_a_workflow_deleted_while_running_ends_the_run_from_its_last_state() -> None:
    action = decide(observed(run(SUBMITTED), last_seen=RUNNING))
    assert isinstance(action, WriteStatus)
    s = action.status
    assert s["phase"] == "Failed"
    assert cond(s, "Succeeded") == ("False", "WorkflowEnded")
    assert table(s) == {"a": ("Succeeded", None), "b": ("Failed", "WorkflowEnded"),
                        "c": ("Failed", "WorkflowEnded"), "d": ("Skipped", "WorkflowEnded")}


def test_the_last_state_of_another_incarnation_is_ignored() -> None:
    theirs = owned(SUCCEEDED, uid="old-uid")
    assert decide(observed(run(), last_seen=theirs)) == Fetch(Need.RUN)


def test_status_keeps_fields_other_writers_own() -> None:
    old = {**SUBMITTED, "runId": "r-9", "updatedAt": "2026-01-01T00:00:30Z",
           "conditions": [{"type": "Audited", "status": "True", "reason": "ByTest",
                           "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
           "stepStatuses": [{"name": "a", "kind": "Container", "phase": "Running",
                             "resourceRef": {"kind": "AgentRun", "name": "x"}}]}
    action = decide(observed(run(old), workflow=RUNNING))
    assert isinstance(action, WriteStatus)
    s = action.status
    assert (s["runId"], s["updatedAt"]) == ("r-9", "2026-01-01T00:00:30Z")
    assert cond(s, "Audited") == ("True", "ByTest")
    a = next(x for x in s["stepStatuses"] if x["name"] == "a")
    assert a["resourceRef"] == {"kind": "AgentRun", "name": "x"}
    assert a["phase"] == "Succeeded"


def test_step_messages_are_capped() -> None:
    wf = owned(with_status(compiled(DIAMOND), "Failed", [
        node("a", "Failed", message="x" * 100_000), node("b", "Omitted"),
        node("c", "Failed", message="\x00" * 5000), node("d", "Omitted")]))
    action = decide(observed(run(SUBMITTED), workflow=wf))
    assert isinstance(action, WriteStatus)
    for s in action.status["stepStatuses"]:
        assert len(json.dumps(s["message"], ensure_ascii=False).encode()) <= MAX_STEP_MESSAGE
    a = next(x for x in action.status["stepStatuses"] if x["name"] == "a")
    assert "xxxx" in a["message"] and a["message"].endswith("[...]")


def test_node_status_available_again_clears_the_offload_condition() -> None:
    offloaded = owned({**compiled(DIAMOND), "status": {
        "phase": "Running", "offloadNodeStatusVersion": "fnv:1"}})
    first = decide(observed(run(SUBMITTED), workflow=offloaded))
    assert isinstance(first, WriteStatus)
    assert cond(first.status, "NodeStatusAvailable") == ("False", "NodeStatusOffloaded")
    again = decide(observed(run(first.status), workflow=RUNNING))
    assert isinstance(again, WriteStatus)
    assert cond(again.status, "NodeStatusAvailable") == ("True", "NodeStatusInWorkflow")
    assert cond(again.status, "Succeeded") == ("Unknown", "Running")


# -- orphans ------------------------------------------------------------------------------
def test_orphan_rows() -> None:
    wf = owned(RUNNING)
    assert decide_orphan(WF, None, OwnerState.UNKNOWN) == Done("no Workflow of that run left")
    assert decide_orphan(WF, wf, OwnerState.UNKNOWN) == Fetch(Need.OWNER)
    assert decide_orphan(WF, wf, OwnerState.GONE) == DeleteWorkflow(wf, "Background")
    assert isinstance(decide_orphan(WF, wf, OwnerState.EXISTS), Done)
    assert isinstance(decide_orphan("another-run", wf, OwnerState.GONE), Done)
    deleting = copy.deepcopy(wf)
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert isinstance(decide_orphan(WF, deleting, OwnerState.GONE), Done)


# -- the same rules as properties -----------------------------------------------------------
STATUSES = [{}, {"phase": "Pending"}, SUBMITTED, FINAL, {"phase": "Failed"}]
UNOWNED = {**compiled(DIAMOND), "metadata": {**compiled(DIAMOND)["metadata"],
                                             "uid": "wf-of-nobody"}}

def forged(wf: Obj) -> Obj:
    """`wf` made by someone else, its ownerReference pointed at the run (issue 22.9)."""
    out = copy.deepcopy(wf)
    out["metadata"]["uid"] = "forged-uid"
    return out


WORKFLOWS = [None, RUNNING, FAILED, owned(RUNNING, uid="old-uid"),
             owned(RUNNING, uid="x", name="someone-else"), UNOWNED, forged(SUCCEEDED)]
LAST_SEEN = [None, FAILED, RUNNING, owned(SUCCEEDED, uid="old-uid"), forged(SUCCEEDED)]
SUBMISSIONS = [None, Submission(BODY), Submission(None, "OrchestrationInvalid", "bad")]


@hs.composite
def observations(draw: hs.DrawFn) -> Observed:
    meta: Obj = {}
    if draw(hs.booleans()):
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    # A status the controller wrote, or the same written by someone else (unsealed).
    r = run(copy.deepcopy(draw(hs.sampled_from(STATUSES))), sealed=draw(hs.booleans()),
            **meta)
    return Observed(
        run=r, now=NOW, trust=trust_of(r, draw(hs.sampled_from([(), CREATED]))),
        run_live=draw(hs.booleans()), workflow=draw(hs.sampled_from(WORKFLOWS)),
        workflow_live=draw(hs.booleans()), last_seen=draw(hs.sampled_from(LAST_SEEN)),
        owner=draw(hs.sampled_from(list(OwnerState))),
        orchestration=draw(hs.sampled_from([None, ORCH])),
        orchestration_live=draw(hs.booleans()),
        submission=draw(hs.sampled_from(SUBMISSIONS)),
        refused=draw(hs.sampled_from([None, CreateRefused(422, "Invalid", "no")])))


@settings(max_examples=600, deadline=None)
@given(observations())
def test_properties_of_every_decision(o: Observed) -> None:
    action = decide(o)
    status = o.run["status"]
    if isinstance(action, Create):
        assert not (o.trust.status and status.get("workflowRef")), "submitted twice"
        assert o.run_live, "created from a cache read"
        assert not o.run["metadata"].get("deletionTimestamp"), "submitted a run being deleted"
        assert o.refused is None, "a refused create retried without showing it"
        assert o.workflow is None
        assert o.orchestration_live, "compiled from a cached Orchestration"
    if isinstance(action, Fetch) and action.need is Need.SUBMISSION:
        assert o.orchestration_live, "compiling from a cached Orchestration"
    if isinstance(action, WriteStatus):
        ref = action.status.get("workflowRef")
        if o.workflow is not None and ref and ref == {
                k: o.workflow["metadata"][k] for k in ("name", "namespace", "uid")}:
            owner = (o.workflow["metadata"].get("ownerReferences") or [{}])[0]
            assert owner.get("uid") == RUN_UID, "adopted a Workflow it does not own"
            assert o.trust.created(o.workflow["metadata"]["uid"]), \
                "adopted a Workflow it did not create"
        if o.trust.status and status.get("phase") in RUN_DONE:  # §3: only the generation
            kept = {k: v for k, v in status.items() if k not in ("seal", "observedGeneration")}
            assert action.status == {**kept, "observedGeneration": o.run["metadata"].get(
                "generation")}, "rewrote an ended run"
    if isinstance(action, WriteStatus) and o.last_seen is not None \
            and not o.trust.created(o.last_seen["metadata"]["uid"]):
        assert action.status.get("workflowRef", {}).get("uid") != \
            o.last_seen["metadata"]["uid"], "mirrored the last state of a foreign Workflow"
    if not o.trust.status and isinstance(action, Done):
        assert not action.why.startswith("ended"), "settled by a status it did not write"
    if isinstance(action, DeleteWorkflow) and \
            (controller_owner(action.workflow) or {}).get("uid") == RUN_UID:
        assert o.run_live, "deleted a Workflow naming the run, judged from a cached run"
    if o.refused is not None and isinstance(action, WriteStatus) \
            and action.status.get("phase") == "Pending" and o.workflow is None:
        assert action.requeue is not None and action.requeue.backoff


# -- histories: the executor's loop against a simulated apiserver -------------------------
class World:
    """The apiserver's truth for one run, and a cache that lags it."""

    def __init__(self) -> None:
        self.run: Obj = run()
        self.workflow: Obj | None = None
        self.creates = 0
        self.history: list[Obj] = [copy.deepcopy(self.run)]

    def reconcile(self, cached_run: Obj, cached_wf: Obj | None) -> None:
        o = observed(cached_run, workflow=cached_wf, orchestration=ORCH)
        for _ in range(12):
            action = decide(o)
            if isinstance(action, Fetch):
                if action.need is Need.RUN:
                    o = replace(o, run=copy.deepcopy(self.run), run_live=True,
                                trust=trust_of(self.run))
                elif action.need is Need.WORKFLOW:
                    o = replace(o, workflow=self.workflow, workflow_live=True)
                elif action.need is Need.ORCHESTRATION:
                    o = replace(o, orchestration=ORCH, orchestration_live=True)
                elif action.need is Need.SUBMISSION:
                    o = replace(o, submission=Submission(BODY))
                else:
                    raise AssertionError(action)
            elif isinstance(action, Create):
                if self.workflow is not None:
                    o = replace(o, workflow=self.workflow, workflow_live=True)
                    continue
                self.creates += 1
                self.workflow = copy.deepcopy(action.workflow)
                o = replace(o, workflow=self.workflow, workflow_live=True)
            elif isinstance(action, WriteStatus):
                if o.run["metadata"].get("resourceVersion") != \
                        self.run["metadata"].get("resourceVersion"):
                    return  # 409: the executor starts over with a live read
                self.run = {**self.run, "status": SEALER.seal(self.run, action.status),
                            "metadata": {**self.run["metadata"],
                                         "resourceVersion": str(len(self.history))}}
                self.history.append(copy.deepcopy(self.run))
                return
            else:
                return
        raise AssertionError("decide did not settle")


@settings(max_examples=300, deadline=None)
@given(hs.lists(hs.tuples(hs.sampled_from(["reconcile", "delete-workflow", "argo-ends"]),
                          hs.integers(0, 20), hs.booleans()), max_size=25))
def test_histories_with_stale_caches_submit_at_most_once(
        steps: list[tuple[str, int, bool]]) -> None:
    world = World()
    for what, lag, wf_cached in steps:
        if what == "delete-workflow":
            world.workflow = None
        elif what == "argo-ends" and world.workflow is not None:
            world.workflow = {**FAILED, "metadata": world.workflow["metadata"]}
        else:
            cached = world.history[max(0, len(world.history) - 1 - lag)]
            world.reconcile(copy.deepcopy(cached), world.workflow if wf_cached else None)
    assert world.creates <= 1
