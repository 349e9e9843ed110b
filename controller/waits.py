"""ApprovalGate and SignalWait decisions, as pure functions (contract §4).

Why pure: the rules are the reference controller's (jangar
`orchestration-controller.ts`, `reconcileOrchestrationRun`) and easy to get
subtly wrong (case, which fields must match, what wins over a timeout), so they
are functions of data alone: the waiting node as the Workflow records it, the
ApprovalPolicy or SignalDeliveries the controller's caches hold, and the time.

- ApprovalGate: the policy's `status.phase`, in any case: `approved`, `allowed`,
  `ready`, `succeeded` pass; `denied`, `rejected`, `blocked`, `failed` fail (the
  message says which, as the reference's `approval policy NAME is PHASE`);
  anything else waits. A policy that does not exist fails the step, as the
  reference does (`approval policy NAME not found`); the caller confirms that
  against the apiserver first, since a cache may lag a policy just created.
- SignalWait: passes once a SignalDelivery exists whose `spec.signalRef.name` and
  `spec.deliveryId` equal the step's, each compared only when the step gives it
  (the reference needs one of the two; it matched on either, but a delivery for
  another signal or another deliveryId must not release a wait, issue 11).
- A decision found wins over the deadline (the controller may look late); with
  none, at `startedAt + timeoutSeconds` the wait fails with orch's fixed timeout
  message (`controller.argo_messages.WAIT_TIMED_OUT`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from compiler.kinds.wait import APPROVAL_GATE, WaitSpec, wait_of_node
from controller.argo_messages import WAIT_TIMED_OUT
from controller.suspend import NodeUpdateError, hydrated_nodes, is_active_suspend
from orchapi.api import parse_time
from orchapi.argo import ARGO_DONE, ArgoPhase

APPROVING = frozenset({"approved", "allowed", "ready", "succeeded"})
DENYING = frozenset({"denied", "rejected", "blocked", "failed"})


class Verdict(enum.StrEnum):
    WAITING = "Waiting"
    PASSED = "Passed"  # resume: node Succeeded
    FAILED = "Failed"  # node Failed, the decision in the message
    TIMED_OUT = "TimedOut"  # node Failed with WAIT_TIMED_OUT
    POLICY_MISSING = "PolicyMissing"  # node Failed once the apiserver confirms it


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    message: str
    deadline: datetime | None = None  # when a still waiting wait times out

    @property
    def acts(self) -> bool:
        return self.verdict is not Verdict.WAITING


@dataclass(frozen=True)
class WaitingNode:
    """A suspend node of ours that Argo shows as waiting (`Running`)."""

    node_id: str
    step: str  # the node's displayName: the step's name
    spec: WaitSpec
    started_at: datetime | None

    @property
    def deadline(self) -> datetime | None:
        if self.spec.timeout_seconds is None or self.spec.timeout_seconds <= 0 \
                or self.started_at is None:
            return None
        return self.started_at + timedelta(seconds=self.spec.timeout_seconds)


# An attempt of a Retry node is displayed `STEP(N)` (a default retryStrategy, pinned
# to no retries, wraps a wait in one: compiler.argo_defaults).
_ATTEMPT = re.compile(r"\(\d+\)$")


def waiting_nodes(nodes: Mapping[str, Mapping[str, Any]]) -> list[WaitingNode]:
    """Every active suspend node that carries one of our waits, by node id order."""
    found = []
    for node_id in sorted(nodes):
        node = nodes[node_id]
        spec = wait_of_node(node) if is_active_suspend(node) else None
        if spec is not None:
            step = _ATTEMPT.sub("", str(node.get("displayName") or node_id))
            found.append(WaitingNode(node_id, step, spec, parse_time(node.get("startedAt"))))
    return found


def approval_verdict(name: str, policy: Mapping[str, Any] | None) -> tuple[Verdict, str]:
    """What an ApprovalPolicy (None: it does not exist) says about a gate."""
    if policy is None:
        return Verdict.POLICY_MISSING, f"approval policy {name} not found"
    raw = (policy.get("status") or {}).get("phase")
    phase = raw.lower() if isinstance(raw, str) else ""
    if phase in DENYING:
        return Verdict.FAILED, f"approval policy {name} is {phase}"
    if phase in APPROVING:
        return Verdict.PASSED, f"approval policy {name} is {phase}"
    return Verdict.WAITING, f"Waiting for approval of {name}"


def delivery_matches(spec: WaitSpec, delivery: Mapping[str, Any]) -> bool:
    """The SignalDelivery is the one the wait waits for (by its spec, not its name)."""
    body = delivery.get("spec") or {}
    ref = body.get("signalRef") or {}
    if spec.signal is not None and (not isinstance(ref, Mapping) or ref.get("name") != spec.signal):
        return False
    if spec.delivery_id is not None and body.get("deliveryId") != spec.delivery_id:
        return False
    return spec.signal is not None or spec.delivery_id is not None


def decide_wait(wait: WaitingNode, now: datetime, policy: Mapping[str, Any] | None = None,
                deliveries: Iterable[Mapping[str, Any]] = ()) -> Decision:
    """One wait's decision. `policy` is the gate's ApprovalPolicy (None when it does
    not exist); `deliveries` the SignalDeliveries that may match (any superset)."""
    spec, deadline = wait.spec, wait.deadline
    if spec.kind == APPROVAL_GATE:
        verdict, message = approval_verdict(str(spec.policy), policy)
    else:
        match = next((d for d in deliveries if delivery_matches(spec, d)), None)
        if match is not None:
            name = (match.get("metadata") or {}).get("name")
            what = f"signal {spec.signal}" if spec.signal else "signal delivery"
            verdict, message = Verdict.PASSED, f"{what} delivered (SignalDelivery {name})"
        else:
            verdict, message = Verdict.WAITING, spec.waiting_message
    if verdict is Verdict.WAITING and deadline is not None and now >= deadline:
        return Decision(Verdict.TIMED_OUT, WAIT_TIMED_OUT)
    return Decision(verdict, message, deadline if verdict is Verdict.WAITING else None)


# -- every wait of one Workflow ------------------------------------------------------------
@dataclass(frozen=True)
class WaitFacts:
    """What the controller's caches (and, for a policy the cache lacks, the
    apiserver) hold for one Workflow's waits."""

    policies: Mapping[str, Mapping[str, Any] | None]  # name -> policy (None: not found)
    deliveries: Mapping[str, Sequence[Mapping[str, Any]]]  # node id -> candidates
    live: frozenset[str] = frozenset()  # policies read from the apiserver, not a cache


@dataclass(frozen=True)
class Release:
    """Set one suspend node: `Succeeded` (resume) or `Failed`, with the decision."""

    node_id: str
    step: str
    phase: str
    message: str


@dataclass(frozen=True)
class Plan:
    releases: tuple[Release, ...] = ()
    unconfirmed: tuple[str, ...] = ()  # policies only a cache says are missing
    deadline: datetime | None = None  # the earliest timeout of what still waits


def workflow_waits(workflow: Mapping[str, Any]) -> list[WaitingNode]:
    """The waits a running Workflow holds (none once it ended or is being shut
    down: Argo fails its suspend nodes then; none when its node status is
    offloaded, which only the Argo Server can write)."""
    spec, status = workflow.get("spec") or {}, workflow.get("status") or {}
    if status.get("phase") in ARGO_DONE or spec.get("shutdown"):
        return []
    try:
        nodes = hydrated_nodes(status)
    except NodeUpdateError:
        return []
    return waiting_nodes(nodes)


def plan_waits(waits: Sequence[WaitingNode], facts: WaitFacts, now: datetime) -> Plan:
    """Every wait decided: which nodes to set, and when to look again."""
    releases: list[Release] = []
    unconfirmed: list[str] = []
    deadlines: list[datetime] = []
    for wait in waits:
        policy = facts.policies.get(str(wait.spec.policy)) if wait.spec.policy else None
        decision = decide_wait(wait, now, policy, facts.deliveries.get(wait.node_id, ()))
        if decision.verdict is Verdict.POLICY_MISSING and wait.spec.policy not in facts.live:
            unconfirmed.append(str(wait.spec.policy))
        elif decision.verdict is Verdict.PASSED:
            releases.append(Release(wait.node_id, wait.step, ArgoPhase.SUCCEEDED,
                                    decision.message))
        elif decision.acts:
            releases.append(Release(wait.node_id, wait.step, ArgoPhase.FAILED,
                                    decision.message))
        elif decision.deadline is not None:
            deadlines.append(decision.deadline)
    return Plan(tuple(releases), tuple(dict.fromkeys(unconfirmed)),
                min(deadlines) if deadlines else None)
