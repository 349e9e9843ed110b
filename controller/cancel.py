"""Cancel (contract §3), the controller's part, as pure functions: what to do for a
run whose `spec.cancel` is true.

- The Workflow is stopped: `spec.shutdown: Stop` (what `argo stop` writes; Argo's
  `ShutdownStrategyStop`, argo-workflows v4.0.5 pkg/apis/workflow/v1alpha1/
  workflow_types.go), unless it is already shut down.
- What running steps started is stopped too: each child OrchestrationRun that the
  Workflow created (Argo's workflow label and an ownerReference to this Workflow's
  UID, as `compiler.kinds.resource` writes them) and that has not ended gets
  `spec.cancel: true`; each AgentRun it created that has not ended is deleted.
  Ended ones are left as they are (their steps ended before the cancel).
- A run that had ended before the cancel changes nothing: no plan at all.

The step phases and the run's `Cancelled` come from `orchapi.semantics.evaluate`
(`cancelled=True`), through the mirror; this module only says what to change in
the cluster. Every part is idempotent, so a reconcile that fails halfway is simply
run again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchapi.api import Obj
from orchapi.argo import ARGO_WORKFLOW_LABEL, ArgoShutdown
from orchapi.vocabulary import RUN_DONE

# The AgentRun phases after which it does nothing more (the reference system's, as
# the compiled resource step reads them: succeeded / failed / cancelled).
AGENT_RUN_DONE = frozenset({"Succeeded", "Failed", "Cancelled"})


@dataclass(frozen=True)
class CancelPlan:
    stop_workflow: bool = False
    cancel_runs: tuple[str, ...] = ()  # child OrchestrationRuns: set spec.cancel
    delete_agent_runs: tuple[tuple[str, str], ...] = field(default=())  # (name, uid)

    @property
    def empty(self) -> bool:
        return not (self.stop_workflow or self.cancel_runs or self.delete_agent_runs)


def is_cancel_requested(run: Mapping[str, Any]) -> bool:
    return (run.get("spec") or {}).get("cancel") is True


def is_shut_down(workflow: Mapping[str, Any]) -> bool:
    return bool((workflow.get("spec") or {}).get("shutdown"))


def created_by(obj: Mapping[str, Any], workflow: Mapping[str, Any]) -> bool:
    """Made by this Workflow's resource step: its label and an owner reference to
    the Workflow's UID (a name alone could be a Workflow of an older run)."""
    meta, wf_meta = obj.get("metadata") or {}, workflow.get("metadata") or {}
    if (meta.get("labels") or {}).get(ARGO_WORKFLOW_LABEL) != wf_meta.get("name"):
        return False
    return any(ref.get("uid") == wf_meta.get("uid") for ref in meta.get("ownerReferences") or ())


def plan_cancel(run: Mapping[str, Any], workflow: Mapping[str, Any] | None,
                child_runs: Sequence[Mapping[str, Any]] = (),
                agent_runs: Sequence[Mapping[str, Any]] = ()) -> CancelPlan:
    """What the cluster still needs for the run's cancel; empty when nothing does
    (not cancelled, ended before the cancel, or everything already done)."""
    if not is_cancel_requested(run) or workflow is None:
        return CancelPlan()
    if (run.get("status") or {}).get("phase") in RUN_DONE and not is_shut_down(workflow):
        return CancelPlan()  # it had ended before the cancel: the cancel changes nothing
    cancel_runs = tuple(sorted(
        c["metadata"]["name"] for c in child_runs
        if created_by(c, workflow) and not is_cancel_requested(c)
        and (c.get("status") or {}).get("phase") not in RUN_DONE))
    delete = tuple(sorted(
        (a["metadata"]["name"], a["metadata"]["uid"]) for a in agent_runs
        if created_by(a, workflow) and not (a["metadata"].get("deletionTimestamp"))
        and (a.get("status") or {}).get("phase") not in AGENT_RUN_DONE))
    return CancelPlan(not is_shut_down(workflow), cancel_runs, delete)


def stop_patch() -> Obj:
    """The merge patch that stops a Workflow, as `argo stop` does."""
    return {"spec": {"shutdown": str(ArgoShutdown.STOP)}}


def cancel_patch() -> Obj:
    """The merge patch that cancels a run (what `orch cancel` writes)."""
    return {"spec": {"cancel": True}}
