"""The controller's part of a cancel (contract §3), one row per rule: stop the
Workflow, cancel the child runs and delete the AgentRuns that running steps
created (only this Workflow's, only those not ended), nothing for a run that had
ended before the cancel."""

from __future__ import annotations

import pytest

from controller.cancel import CancelPlan, cancel_patch, plan_cancel, stop_patch
from orchapi.api import Obj

WF_UID = "wf-uid-1"


def run(cancel: bool = True, phase: str = "Running") -> Obj:
    return {"metadata": {"name": "r1"}, "spec": {"cancel": cancel} if cancel else {},
            "status": {"phase": phase}}


def workflow(shutdown: str | None = None) -> Obj:
    spec: Obj = {"entrypoint": "main"}
    if shutdown:
        spec["shutdown"] = shutdown
    return {"metadata": {"name": "r1", "uid": WF_UID}, "spec": spec}


def made(name: str, phase: str | None = None, *, workflow_name: str = "r1",
         owner: str = WF_UID, cancel: bool = False, uid: str | None = None) -> Obj:
    obj: Obj = {"metadata": {"name": name, "uid": uid or f"uid-{name}",
                             "labels": {"workflows.argoproj.io/workflow": workflow_name},
                             "ownerReferences": [{"kind": "Workflow", "uid": owner}]},
                "spec": {"cancel": True} if cancel else {}}
    if phase:
        obj["status"] = {"phase": phase}
    return obj


CHILDREN = [made("kid-running", "Running"), made("kid-pending"),
            made("kid-done", "Succeeded"), made("kid-cancelled", "Running", cancel=True),
            made("kid-other-wf", "Running", workflow_name="r0"),
            made("kid-old-owner", "Running", owner="an-older-workflow")]
AGENTS = [made("agent-running", "Running"), made("agent-done", "Succeeded"),
          made("agent-foreign", "Running", owner="x"), made("agent-new")]


@pytest.mark.parametrize("the_run,the_workflow,plan", [
    pytest.param(run(), workflow(), CancelPlan(
        True, ("kid-pending", "kid-running"),
        (("agent-new", "uid-agent-new"), ("agent-running", "uid-agent-running"))),
        id="running-run-everything-it-started"),
    pytest.param(run(phase="Cancelled"), workflow("Stop"), CancelPlan(
        False, ("kid-pending", "kid-running"),
        (("agent-new", "uid-agent-new"), ("agent-running", "uid-agent-running"))),
        id="status-written-but-children-left-over-a-retry-finishes-them"),
    pytest.param(run(cancel=False), workflow(), CancelPlan(), id="not-cancelled"),
    pytest.param(run(phase="Succeeded"), workflow(), CancelPlan(),
                 id="ended-before-the-cancel-changes-nothing"),
    pytest.param(run(), None, CancelPlan(), id="no-workflow-nothing-to-stop"),
    pytest.param(run(), workflow("Terminate"), CancelPlan(
        False, ("kid-pending", "kid-running"),
        (("agent-new", "uid-agent-new"), ("agent-running", "uid-agent-running"))),
        id="already-shut-down-not-stopped-again"),
])
def test_plan_cancel(the_run: Obj, the_workflow: Obj | None, plan: CancelPlan) -> None:
    assert plan_cancel(the_run, the_workflow, CHILDREN, AGENTS) == plan


def test_patches_are_argo_stop_and_orch_cancel() -> None:
    assert stop_patch() == {"spec": {"shutdown": "Stop"}}
    assert cancel_patch() == {"spec": {"cancel": True}}
    assert CancelPlan().empty and not CancelPlan(stop_workflow=True).empty
