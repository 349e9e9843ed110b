"""The I/O of ApprovalGate and SignalWait: what `decide` asks for about a
Workflow's waits, and the node updates it decides.

Why apart from `controller.reconcile`: the decisions are pure (`controller.waits`,
`controller.decide`); what is left is reading the facts (the caches, and the
apiserver for an ApprovalPolicy the cache lacks) and writing the Workflow as
`argo node set` does: read it live, set the nodes (`controller.suspend`), PUT it
with the resourceVersion read, and start over on a conflict (Argo's controller
writes the same object). A node someone else already set (a person's `argo
resume`, or another replica) is left as it is, and so is every node of a
Workflow found stopped or ended by then (a cancel, `argo stop`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from compiler.kinds.wait import WaitSpec
from controller import conditions as conds
from controller.kube import Kube, retry_on_conflict
from controller.suspend import (
    NodeUpdateError,
    NotSuspendedError,
    hydrated_nodes,
    is_active_suspend,
    set_suspend_node,
)
from controller.waits import Release, WaitFacts, WaitingNode, workflow_waits
from orchapi.api import APPROVAL_POLICIES, WORKFLOWS, Obj
from orchapi.argo import ARGO_DONE

log = logging.getLogger("orch.waits")

PolicyLookup = Callable[[str, str], Obj | None]
DeliveryLookup = Callable[[str, WaitSpec], Sequence[Obj]]


def wait_facts(workflow: Obj, policy: PolicyLookup, deliveries: DeliveryLookup) -> WaitFacts:
    """What the caches hold for the Workflow's waits."""
    ns = workflow["metadata"]["namespace"]
    waits: list[WaitingNode] = workflow_waits(workflow)
    names = {str(w.spec.policy) for w in waits if w.spec.policy}
    return WaitFacts({n: policy(ns, n) for n in sorted(names)},
                     {w.node_id: tuple(deliveries(ns, w.spec)) for w in waits
                      if not w.spec.policy})


def confirm_policies(kube: Kube, namespace: str, facts: WaitFacts) -> WaitFacts:
    """Each policy the cache lacks, read from the apiserver (a cache lags a policy
    created a moment ago; only a confirmed absence fails a gate)."""
    missing = [n for n, p in facts.policies.items() if p is None and n not in facts.live]
    found = {n: kube.get(APPROVAL_POLICIES, namespace, n) for n in missing}
    return WaitFacts({**facts.policies, **found}, facts.deliveries,
                     facts.live | frozenset(missing))


def waiting_ids(workflow: Obj) -> set[str]:
    """The suspend nodes a running Workflow holds waiting: its waits, and a split
    run's gates (none once it ended or is being shut down: Argo fails them then;
    none when its node status is offloaded, which only the Argo Server can write)."""
    spec, status = workflow.get("spec") or {}, workflow.get("status") or {}
    if status.get("phase") in ARGO_DONE or spec.get("shutdown"):
        return set()
    try:
        nodes = hydrated_nodes(status)
    except NodeUpdateError:
        return set()
    return {node_id for node_id, node in nodes.items() if is_active_suspend(node)}


def release(kube: Kube, workflow: Obj, releases: Sequence[Release]) -> Obj | None:
    """Set the nodes on the live Workflow and write it; the Workflow written (None
    when every node had been set by someone else, or the Workflow is gone)."""
    meta = workflow["metadata"]
    ns, name = meta["namespace"], meta["name"]

    def attempt(_: int) -> Obj | None:
        live = kube.get(WORKFLOWS, ns, name)
        if live is None or live["metadata"].get("uid") != meta.get("uid"):
            return None
        # Decided from a cache: the live Workflow may have been stopped since (a
        # cancel, `argo stop`) or have ended; then Argo fails its waits, and none
        # is released after the stop (`workflow_waits` holds none of such a one).
        still = waiting_ids(live)
        body, done = live, []
        for r in releases:
            if r.node_id not in still:
                log.info("wait no longer waits", extra={"workflow": f"{ns}/{name}",
                                                        "step": r.step})
                continue
            try:
                body = set_suspend_node(body, r.node_id, r.phase, r.message,
                                        conds.now_rfc3339())
                done.append(r)
            except NotSuspendedError:
                log.info("wait already released", extra={"workflow": f"{ns}/{name}",
                                                          "step": r.step})
        if not done:
            return None
        written = kube.replace(WORKFLOWS, ns, name, body)
        for r in done:
            log.info("wait released", extra={"workflow": f"{ns}/{name}", "step": r.step,
                                              "phase": r.phase, "why": r.message})
        return written

    return retry_on_conflict(attempt)
