"""`controller.decide` against a tenant who writes run statuses and Workflows (issue
22 items 9 and 10, contract §6 tenancy): one row per attack, with the facts the
executor gives decide (`controller.seal.Trust`), and the rows that must not change
for runs from before sealing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controller.decide import (
    FOREGROUND_WAIT_BASE,
    Action,
    Create,
    CreateRefused,
    DeleteWorkflow,
    Done,
    Fetch,
    Need,
    Observed,
    Requeue,
    WriteStatus,
    decide,
)
from controller.seal import Sealer
from orchapi.api import Obj
from tests.unit.controller.test_decide import (
    FINAL,
    READY,
    RUNNING,
    SUBMITTED,
    SUCCEEDED,
    cond,
    forged,
    observed,
    run,
    trust_of,
)

# A run as the controller last mirrored it: running, one step done.
MIRRORED: Obj = {**SUBMITTED, "progress": "1/4", "stepStatuses": [
    {"name": n, "kind": "Container", "phase": p, "message": ""}
    for n, p in (("a", "Succeeded"), ("b", "Running"), ("c", "Running"), ("d", "Pending"))]}
# What issue 22.10's tenant sent through the status subresource.
SETTLED_PATCH: Obj = {"phase": "Succeeded", "observedGeneration": 1}


def patched(status: Obj, patch: Obj) -> Obj:
    """A run whose sealed `status` then got `patch` (a merge patch) from someone else."""
    r = run(status)
    r["status"] = {**r["status"], **patch}
    return r


def delete_first(wf: Obj) -> DeleteWorkflow:
    return DeleteWorkflow(wf, "Foreground", Requeue(FOREGROUND_WAIT_BASE, backoff=True))


def facts(r: Obj, restarted: bool = False, **more: Any) -> Observed:
    return observed(r, trust=trust_of(r, () if restarted else ("wf-uid",)), **more)


ROWS = [
    # 22.10: the patch does not settle the run; its Workflow is mirrored over it.
    pytest.param(facts(patched(SUBMITTED, SETTLED_PATCH), workflow=RUNNING), "mirror-running",
                 id="status-patched-succeeded-while-running-is-mirrored-over"),
    # ... and after a restart (nothing proves the Workflow is ours any more): the
    # Workflow is deleted and the run submitted again, never left "Succeeded".
    pytest.param(facts(patched(SUBMITTED, SETTLED_PATCH), restarted=True, workflow=RUNNING,
                       run_live=True),
                 delete_first(RUNNING), id="status-patched-after-a-restart-resubmits"),
    pytest.param(facts(patched({}, {"phase": "Failed"}), run_live=True), Fetch(Need.ORCHESTRATION),
                 id="patched-failed-before-submission-is-not-terminal"),
    pytest.param(observed(run({"workflowRef": {"name": "x", "uid": "u"}}, sealed=False),
                          **READY),
                 "create", id="forged-workflowref-does-not-stop-submission"),
    # 22.9: a Workflow pointed at the run by someone else is never mirrored.
    pytest.param(facts(run(), restarted=True, workflow=forged(SUCCEEDED), run_live=True),
                 delete_first(forged(SUCCEEDED)), id="forged-owner-before-submission-is-deleted"),
    pytest.param(facts(run(), workflow=forged(SUCCEEDED), run_live=True),
                 delete_first(forged(SUCCEEDED)), id="forged-owner-not-what-this-process-created"),
    # ... judged from the run read live: a lagging cache (a new leader's) may not yet
    # hold the status write that recorded our own Workflow.
    pytest.param(facts(run(), restarted=True, workflow=RUNNING), Fetch(Need.RUN),
                 id="never-deleted-from-a-cached-run"),
    pytest.param(facts(run(MIRRORED), workflow=forged(SUCCEEDED), run_live=True),
                 "ended-workflow-deleted",
                 id="forged-owner-after-submission-stands-where-ours-was"),
    pytest.param(facts(run(FINAL), workflow=forged(SUCCEEDED)),
                 Done("ended; a Workflow it did not create names it as owner"),
                 id="forged-owner-after-the-end-changes-nothing"),
    pytest.param(facts(run(MIRRORED), workflow_live=True, last_seen=forged(SUCCEEDED)),
                 "ended-workflow-deleted", id="last-state-of-a-forged-workflow-is-ignored"),
]


@pytest.mark.parametrize(("o", "expected"), ROWS)
def test_row(o: Observed, expected: Action | str) -> None:
    action = decide(o)
    if expected == "mirror-running":
        assert isinstance(action, WriteStatus)
        assert action.status["phase"] == "Running"
        assert cond(action.status, "Succeeded") == ("Unknown", "Running")
        assert action.status["workflowRef"]["uid"] == "wf-uid"
    elif expected == "create":
        assert isinstance(action, Create)
    elif expected == "ended-workflow-deleted":
        assert isinstance(action, WriteStatus)
        assert action.status["phase"] == "Failed"
        assert cond(action.status, "Submitted") == ("False", "WorkflowDeleted")
        assert action.status["workflowRef"]["uid"] == "wf-uid"
    else:
        assert action == expected


def test_a_sealed_succeeded_run_is_settled_and_a_forged_one_is_not() -> None:
    done = run({**FINAL, "observedGeneration": 1})
    assert decide(facts(done, workflow_live=True)) == Done("ended; its Workflow is gone")
    forged_done = run({**FINAL, "observedGeneration": 1}, sealed=False)
    assert not isinstance(decide(facts(forged_done, workflow_live=True)), Done)


def test_the_forged_fields_are_not_carried_into_what_is_written() -> None:
    r = patched(SUBMITTED, {**SETTLED_PATCH, "finishedAt": "2026-01-01T00:00:05Z",
                            "runId": "kept"})
    action = decide(facts(r, workflow=RUNNING))
    assert isinstance(action, WriteStatus)
    assert "finishedAt" not in action.status
    assert action.status["runId"] == "kept"  # another writer's field


# -- runs from before sealing (an upgrade): judged as before ---------------------------
EPOCH = "2026-01-01T00:00:30Z"
LEGACY = Sealer(b"\x02" * 32, EPOCH)


def legacy(status: Obj, created: str) -> Obj:
    r = run(status, sealed=False, creationTimestamp=created)
    return r


def test_a_run_from_before_sealing_keeps_its_workflow_and_its_end() -> None:
    old = legacy(SUBMITTED, "2026-01-01T00:00:00Z")
    action = decide(observed(old, trust=LEGACY.trust(old), workflow=RUNNING))
    assert isinstance(action, WriteStatus) and action.status["phase"] == "Running"
    ended = legacy({**FINAL, "observedGeneration": 1}, "2026-01-01T00:00:00Z")
    assert decide(observed(ended, trust=LEGACY.trust(ended), workflow_live=True)) == \
        Done("ended; its Workflow is gone")


def test_a_run_created_after_the_epoch_gets_no_such_pass() -> None:
    new = legacy(SUBMITTED, "2026-01-01T00:00:31Z")
    assert decide(observed(new, trust=LEGACY.trust(new), workflow=copy.deepcopy(RUNNING),
                           run_live=True)) == delete_first(RUNNING)


# -- references (issue 22.11): a malformed name or a 403 is a terminal refusal ---------
def named(ref: str, resume: str | None = None) -> Obj:
    r = run()
    r["spec"] = {"orchestrationRef": {"name": ref},
                 **({"resumeFrom": {"name": resume}} if resume is not None else {})}
    return r


@pytest.mark.parametrize(("r", "reason"), [
    pytest.param(named("."), "InvalidField", id="orchestration-ref-dot"),
    pytest.param(named("victim/release"), "InvalidField", id="orchestration-ref-subresource"),
    pytest.param(named("o", "."), "InvalidField", id="resume-from-dot"),
])
def test_a_malformed_reference_is_refused_before_any_read(r: Obj, reason: str) -> None:
    action = decide(observed(r, run_live=True))
    assert isinstance(action, WriteStatus) and action.requeue is None
    assert action.status["phase"] == "Failed"
    assert cond(action.status, "Submitted") == ("False", reason)


def test_a_forbidden_read_of_the_orchestration_is_terminal() -> None:
    action = decide(observed(run(), run_live=True, orchestration_live=True,
                             unreadable=CreateRefused(403, "Forbidden", "may not get it")))
    assert isinstance(action, WriteStatus) and action.requeue is None
    assert action.status["phase"] == "Failed"
    assert cond(action.status, "Submitted") == ("False", "ReferenceForbidden")
