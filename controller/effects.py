"""What decide's actions do in the cluster beyond the run's own status: a cancel
carried out (what the Workflow's steps created, read live; the Workflow stopped, the
child runs cancelled, the AgentRuns deleted), a Workflow deleted only while the same
run controls it, the Workflow of a deleted run collected (`decide_orphan`), and a
split run's finalizer taken off its Workflows once it has ended or is gone.

Why apart from the executor's loop (`controller.reconcile`): each is a few requests
in a fixed order, idempotent (a reconcile that fails halfway does it again), and
reads nothing the loop keeps; the loop stays the conversation with `decide`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.cancel import CancelPlan, cancel_patch, stop_patch
from controller.decide import Created, DeleteWorkflow, Fetch, OwnerState, Requeue, decide_orphan
from controller.kube import Kube, NotFoundError, retry_on_conflict
from controller.mapping import Key, controller_owner
from orchapi.api import AGENT_RUNS, RUN_ACTIVE_FINALIZER, RUN_LABEL, RUNS, WORKFLOWS, Obj
from orchapi.argo import ARGO_WORKFLOW_LABEL
from orchapi.names import label_value

log = logging.getLogger("orch.reconcile")


def created_by(kube: Kube, workflow: Obj) -> Created:
    """The child runs and AgentRuns the Workflow's resource steps created (by
    Argo's workflow label; `controller.cancel` checks the owner reference)."""
    meta = workflow["metadata"]
    selector = f"{ARGO_WORKFLOW_LABEL}={meta['name']}"
    runs = [i for page, _ in kube.list_pages(RUNS, meta["namespace"], selector) for i in page]
    try:
        agents = [i for page, _ in kube.list_pages(AGENT_RUNS, meta["namespace"], selector)
                  for i in page]
    except NotFoundError:  # no AgentRun CRD in this cluster: nothing to delete
        agents = []
    return Created(tuple(runs), tuple(agents))


def cancel(kube: Kube, workflow: Obj, plan: CancelPlan) -> None:
    """Stop the Workflow, cancel the child runs, delete the AgentRuns (each
    idempotent: a reconcile that fails halfway does it again)."""
    meta = workflow["metadata"]
    ns = meta["namespace"]
    if plan.stop_workflow:
        kube.patch(WORKFLOWS, ns, meta["name"], stop_patch())
        log.info("workflow stopped for a cancel", extra={"workflow": f"{ns}/{meta['name']}"})
    for name in plan.cancel_runs:
        kube.patch(RUNS, ns, name, cancel_patch())
        log.info("child run cancelled", extra={"run": f"{ns}/{name}"})
    for name, uid in plan.delete_agent_runs:
        kube.delete(AGENT_RUNS, ns, name, uid=uid)
        log.info("AgentRun deleted for a cancel", extra={"agentrun": f"{ns}/{name}"})


def owner_state(kube: Kube, namespace: str, owner: Mapping[str, Any] | None) -> OwnerState:
    """Whether the run that controls a Workflow still exists, read live (the same
    name with another uid is another run)."""
    if owner is None:
        return OwnerState.GONE
    live = kube.get(RUNS, namespace, str(owner.get("name")))
    gone = live is None or live["metadata"]["uid"] != owner.get("uid")
    return OwnerState.GONE if gone else OwnerState.EXISTS


def collect_orphan(kube: Kube, key: Key, workflow: Obj | None) -> Requeue | None:
    """The run is gone: delete its Workflow as `decide_orphan` says (its owner read
    live first); when to look again, if ever."""
    owner = OwnerState.UNKNOWN
    for _ in range(3):
        action = decide_orphan(key.name, workflow, owner)
        if isinstance(action, Fetch):
            assert workflow is not None
            owner = owner_state(kube, key.namespace, controller_owner(workflow))
        elif isinstance(action, DeleteWorkflow):
            delete_if_still_owned(kube, action.workflow, action.propagation)
            return action.requeue
        else:
            return None
    return None


def delete_if_still_owned(kube: Kube, cached: Obj, propagation: str) -> None:
    """Delete it only if, read live, it is still controlled by the same run: the
    cache may predate the garbage collector orphaning it (`propagationPolicy:
    Orphan` strips the ownerReference before the run goes); the resourceVersion
    precondition makes the check and the delete one step."""
    meta = cached["metadata"]
    wf = kube.get(WORKFLOWS, meta["namespace"], meta["name"])
    owner = controller_owner(wf) if wf is not None else None
    old_owner = controller_owner(cached)
    if wf is None or owner is None or old_owner is None \
            or owner.get("uid") != old_owner.get("uid") \
            or wf["metadata"].get("deletionTimestamp"):
        return
    meta = wf["metadata"]
    if kube.delete(WORKFLOWS, meta["namespace"], meta["name"], uid=meta["uid"],
                   resource_version=meta["resourceVersion"], propagation=propagation):
        log.info("deleted the Workflow of a deleted run",
                 extra={"workflow": f"{meta['namespace']}/{meta['name']}"})


def release_finalizer(kube: Kube, workflow: Obj) -> Obj | None:
    """Take the split run's finalizer off a Workflow (the one read, or as read live
    after a conflict); the Workflow as written (None: gone, or it had none)."""
    meta = workflow["metadata"]
    ns, name = meta["namespace"], meta["name"]

    def attempt(n: int) -> Obj | None:
        wf = workflow if n == 0 else kube.get(WORKFLOWS, ns, name)
        if wf is None or wf["metadata"].get("uid") != meta.get("uid"):
            return None
        held = list(wf["metadata"].get("finalizers") or ())
        if RUN_ACTIVE_FINALIZER not in held:
            return None
        kept = [f for f in held if f != RUN_ACTIVE_FINALIZER]
        # The resourceVersion makes it conditional: a list changed since is re-read.
        return kube.patch(WORKFLOWS, ns, name, {"metadata": {
            "finalizers": kept or None, "resourceVersion": wf["metadata"]["resourceVersion"]}})

    written = retry_on_conflict(attempt)
    if written is not None:
        log.info("finalizer released", extra={"workflow": f"{ns}/{name}"})
    return written


def release_orphaned_finalizers(kube: Kube, key: Key, first: Obj | None) -> None:
    """The run is gone: take its finalizer off the Workflows of its split set that
    a run of that name, now gone, controlled (the garbage collector deletes them,
    and the finalizer would hold them). `first`: the cache's `<run>-1`, the sign
    that the run was split (None: nothing to do, no request made)."""
    if first is None:
        return
    selector = f"{RUN_LABEL}={label_value(key.name)}"
    for page, _ in kube.list_pages(WORKFLOWS, key.namespace, selector):
        for wf in page:
            owner = controller_owner(wf)
            if owner is None or owner.get("name") != key.name \
                    or RUN_ACTIVE_FINALIZER not in (wf["metadata"].get("finalizers") or ()):
                continue
            if owner_state(kube, key.namespace, owner) is OwnerState.GONE:
                release_finalizer(kube, wf)
