"""What to do next for one OrchestrationRun (contract §5), as one pure function.

Why: the safety of the controller lives in the order of a few questions (is there
a Workflow, is it ours, was it submitted before, is the run being deleted, was
the run read live), and that order is easiest to get wrong when it is spread over
I/O. So, as controller-runtime's `Reconcile` returns a `Result` and Tekton's
`pipelinerun/resources` decide from plain data, `decide` reads an `Observed`
(everything known, no client) and returns one `Action`. When it needs a fact it
does not have (the run read live, the Workflow confirmed gone, whether a foreign
Workflow's owner still exists, the Orchestration, the compiled Workflow), the
action is a `Fetch`, and the executor (`controller.reconcile`) calls it again with
the fact added. Every safety rule is one branch here and one named test:

- never submit twice: a run whose status records a Workflow (`workflowRef`) is
  never given a `Create`, even when that Workflow is gone;
- never submit from a cache read: `Create` only for a run read live;
- never adopt a Workflow we did not create: only a Workflow whose controlling
  owner has the run's UID and that the controller created (`controller.seal`:
  its uid recorded in the sealed status, or created by this process) is
  mirrored; one that names the run as its owner but was not created by the
  controller (a forged ownerReference) is deleted before the run is submitted,
  and never mirrored;
- believe only what the controller wrote: a status whose seal does not verify
  (`controller.seal`) is read as if nothing had been written, so a status patch
  `{phase: Succeeded}` neither settles a run nor stops its Workflow's mirror;
- a run being deleted is never submitted;
- one execution per delivery: a run with a `spec.deliveryId` another run of its
  Orchestration holds is never submitted (`controller.deliveries`, decided live
  under the delivery's lock);
- a create the apiserver refused is shown (`Submitted=False`, its message) and
  retried with backoff, never silently or in a hot loop;
- a Workflow deleted after it ended keeps its result: its last state is mirrored;
- a cancelled run (`spec.cancel`) is never submitted; its Workflow is stopped and
  what its running steps started is stopped (`controller.cancel`) before its status
  says `Cancelled`, so a failed write retries the whole cancel; a run cancelled
  before submission is `Cancelled` only once the Workflow is known, read live, not
  to exist (else that Workflow would run on, unstopped);
- a run split into several Workflows (contract §8, `_decide_split`) records its set
  by name before creating any, creates only names never created (from the recorded
  Orchestration generation, for a run read live), mirrors only those the controller
  created, releases its gates from one evaluation of all of them, and stops the
  others when one ends early;
- an ApprovalGate or SignalWait of a running Workflow (not a cancelled run's) is
  released (its suspend node set, `ReleaseWaits`) only once decided from what the
  caches hold, and failed for a missing ApprovalPolicy only once the apiserver
  confirms it; a wait with a timeout is looked at again when it falls due (no
  polling).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compiler.compiled import graph_from_orchestration
from controller import status as st
from controller.admission import reference_refusal
from controller.cancel import CancelPlan, is_cancel_requested, plan_cancel
from controller.deliveries import Holder, delivery_key, duplicate_message, waiting_message
from controller.mapping import controller_owner
from controller.mirror import (
    cancelled_statuses,
    mirror_deleted,
    mirror_workflow,
    refused_statuses,
)
from controller.mirror_split import Part, mirror_split
from controller.seal import NOTHING, SEAL, Trust, untrusted_view
from controller.waits import Release, WaitFacts, WaitingNode, plan_waits, workflow_waits
from orchapi.api import RUN_ACTIVE_FINALIZER, Obj, parse_time
from orchapi.argo import ARGO_DONE
from orchapi.vocabulary import RUN_DONE, Reason, RunPhase, SubmitReason

NOT_OWNED_RECHECK = 30.0  # s: a Workflow we do not own is looked at again after this
SUBMIT_RETRY_BASE = 1.0  # s: a refused create backs off 1, 2, 4, ... (capped by the queue)
FOREGROUND_WAIT_BASE = 1.0  # s: the same for waiting on an old Workflow's deletion
DUE_MARGIN = 0.05  # s: a timeout is looked at just after it falls due, never just before
DELIVERY_RECHECK = 2.0  # s: a run waiting for the first run of its delivery looks again
# A split run's Workflows whose gates one reconcile releases (one GET and one PUT of up
# to ~750 KB each); more wait for the next reconcile, which comes at once.
RELEASE_WRITES = 8


class Need(enum.StrEnum):
    RUN = "run"  # the run read live (the cache may hide an earlier submission)
    WORKFLOW = "workflow"  # the Workflow read live (a cache miss is not proof it is gone)
    OWNER = "owner"  # does the run that controls the Workflow still exist?
    ORCHESTRATION = "orchestration"  # read live (a cache miss may be watch lag)
    SUBMISSION = "submission"  # the Orchestration validated and the Workflow compiled
    CREATED = "created"  # what the Workflow's steps created (child runs, AgentRuns): a cancel
    WAITS = "waits"  # the ApprovalPolicies and SignalDeliveries the Workflow's waits name
    POLICIES = "policies"  # ApprovalPolicies the cache lacks, read live
    DELIVERY = "delivery"  # who holds the run's spec.deliveryId (controller.deliveries)
    PARTS = "parts"  # a split run's Workflows, read live (contract §8)


class OwnerState(enum.Enum):
    UNKNOWN = "unknown"
    EXISTS = "exists"
    GONE = "gone"


@dataclass(frozen=True)
class Requeue:
    """Look again after `after` seconds; with `backoff`, `after` is the base of the
    key's exponential backoff (reset once a reconcile needs no backoff)."""

    after: float
    backoff: bool = False


@dataclass(frozen=True)
class Fetch:
    need: Need


@dataclass(frozen=True)
class Create:
    workflow: Obj


@dataclass(frozen=True)
class WriteStatus:
    """Write this status (the executor skips the write when nothing changed)."""

    status: Obj
    requeue: Requeue | None = None


@dataclass(frozen=True)
class DeleteWorkflow:
    """Delete this Workflow if, read live, it is still controlled by the same owner."""

    workflow: Obj
    propagation: str
    requeue: Requeue | None = None


@dataclass(frozen=True)
class Cancel:
    """Stop what a cancelled run started (`plan`), then decide again."""

    workflow: Obj
    plan: CancelPlan


@dataclass(frozen=True)
class Done:
    why: str
    requeue: Requeue | None = None


@dataclass(frozen=True)
class ReleaseWaits:
    """Set these suspend nodes of the Workflow, as `argo node set` does (the
    executor reads the Workflow live and writes it back, retried on conflict)."""

    workflow: Obj
    releases: tuple[Release, ...]


@dataclass(frozen=True)
class RecordWorkflows:
    """Write this status (a split run's set of Workflows, named before any is
    created), then decide again with the run as written."""

    status: Obj


@dataclass(frozen=True)
class CreateWorkflows:
    """Create these Workflows of a split run (each under its recorded name)."""

    workflows: tuple[Obj, ...]


@dataclass(frozen=True)
class ReleaseGates:
    """Set these gate nodes of a split run's Workflows (each Workflow in one write,
    as `ReleaseWaits` does)."""

    gates: tuple[tuple[Obj, tuple[Release, ...]], ...]


@dataclass(frozen=True)
class StopWorkflows:
    """Stop these Workflows of a split run (`spec.shutdown: Stop`): another one
    ended early, so the run ends as one."""

    workflows: tuple[Obj, ...]


@dataclass(frozen=True)
class ReleaseFinalizers:
    """The split run has ended: take its finalizer off these Workflows (their
    deletion, by Argo's TTL or a person, no longer loses what the run needs)."""

    workflows: tuple[Obj, ...]


@dataclass(frozen=True)
class CancelWorkflows:
    """A cancelled split run: stop what each Workflow started (`plan`), then
    decide again."""

    plans: tuple[tuple[Obj, CancelPlan], ...]


Action = Fetch | Create | WriteStatus | DeleteWorkflow | Cancel | ReleaseWaits | Done \
    | RecordWorkflows | CreateWorkflows | ReleaseGates | StopWorkflows | CancelWorkflows \
    | ReleaseFinalizers


@dataclass(frozen=True)
class Submission:
    """The Workflow to create, or why there is none (a terminal refusal). A run
    split into several Workflows (contract §8) has them all in `split` (and the
    first as `workflow`)."""

    workflow: Obj | None
    reason: str = ""
    message: str = ""
    split: tuple[Obj, ...] = ()


@dataclass(frozen=True)
class CreateRefused:
    """The apiserver's answer to the last create: 403, 422, a quota, ..."""

    code: int
    reason: str
    message: str


@dataclass(frozen=True)
class Created:
    """What a run's Workflow created, read live: child runs and AgentRuns (metadata,
    spec and status as listed)."""

    runs: tuple[Obj, ...] = ()
    agent_runs: tuple[Obj, ...] = ()


@dataclass(frozen=True)
class Observed:
    """What is known of one run when deciding; defaults are "not known yet"."""

    run: Obj
    now: str
    run_live: bool = False
    workflow: Obj | None = None  # the Workflow named after the run, if seen
    workflow_live: bool = False  # `workflow` was read from the apiserver just now
    last_seen: Obj | None = None  # the last state of that Workflow, seen as it was deleted
    owner: OwnerState = OwnerState.UNKNOWN  # of a Workflow another run controls
    orchestration: Obj | None = None
    orchestration_live: bool = False
    submission: Submission | None = None
    refused: CreateRefused | None = None
    created: Created | None = None  # for a cancel: what the Workflow created
    cancel_applied: bool = False  # the cancel's plan was carried out in this reconcile
    waits: WaitFacts | None = None  # for the waits of `workflow`
    trust: Trust = NOTHING  # what of the run and its Workflows is the controller's
    unreadable: CreateRefused | None = None  # reading what the run names was refused (403)
    delivery: Holder | None = None  # for a run with spec.deliveryId, read live under its lock
    # A split run (contract §8): its Workflows found (cache or live), by recorded name;
    # `parts_live`: every recorded name was read from the apiserver just now;
    # `parts_gone`: the last state of those seen deleted.
    parts: Mapping[str, Obj] = field(default_factory=dict)
    parts_live: bool = False
    parts_gone: Mapping[str, Obj] = field(default_factory=dict)
    released: bool = False  # this reconcile released a split run's gates (or waits) once


def _counts_as_cancelled(run: Mapping[str, Any], status: Mapping[str, Any],
                         done: bool) -> bool:
    """Whether the mirror reads the run as cancelled. Nothing changes an ended run
    (contract §3): once it has ended, the cancel that counts is the one it ended
    with (in the status the controller wrote, `status`), not `spec.cancel` now, so
    a GitOps re-apply of `cancel: false` leaves a Cancelled run Cancelled, and a
    late `cancel: true` leaves a Failed or Succeeded one as it was."""
    if done:
        return status.get("phase") == RunPhase.CANCELLED
    return is_cancel_requested(run)


def _claims(workflow: Mapping[str, Any] | None, run_uid: str) -> bool:
    """Its controlling ownerReference names the run (anyone can write one)."""
    owner = controller_owner(workflow) if workflow is not None else None
    return owner is not None and owner.get("uid") == run_uid


def _is_ours(workflow: Mapping[str, Any] | None, run_uid: str, trust: Trust) -> bool:
    """Owned by the run and created by the controller (`controller.seal`)."""
    return workflow is not None and _claims(workflow, run_uid) \
        and trust.created((workflow.get("metadata") or {}).get("uid"))


def decide(o: Observed) -> Action:
    meta = o.run["metadata"]
    raw: Obj = o.run.get("status") or {}
    status = raw if o.trust.status else untrusted_view(raw)
    uid, generation = meta["uid"], meta.get("generation")
    submitted = bool(status.get("workflowRef"))
    done = status.get("phase") in RUN_DONE
    cancelled = _counts_as_cancelled(o.run, status, done)
    recorded = [w for w in status.get("workflows") or ()
                if isinstance(w, Mapping) and isinstance(w.get("name"), str)]
    if recorded:  # a split run (contract §8): its own rules
        return _decide_split(o, status, recorded, done, cancelled, generation)

    if o.workflow is not None:
        if _is_ours(o.workflow, uid, o.trust):
            if done:  # whatever its Workflow did since, nothing changes an ended run (§3)
                return _as_it_was(status, generation, "ended")
            if cancelled and not o.cancel_applied:
                if o.created is None:
                    return Fetch(Need.CREATED)
                plan = plan_cancel(o.run, o.workflow, o.created.runs, o.created.agent_runs)
                if not plan.empty:
                    return Cancel(o.workflow, plan)
            due: Requeue | None = None
            waits = [] if cancelled else workflow_waits(o.workflow)
            if waits:
                released = _release(o, waits)
                if not isinstance(released, Requeue | None):
                    return released
                due = released
            mirror = mirror_workflow(o.workflow, status, o.now, cancelled=cancelled)
            return WriteStatus(st.mirrored(status, mirror, o.workflow, generation, o.now), due)
        owner = controller_owner(o.workflow)
        if _claims(o.workflow, uid):
            return _impostor(o, status, done, submitted, generation)
        if done:  # someone else's Workflow of this name: an ended run never submits again
            return _as_it_was(status, generation, "ended; the Workflow of its name is not its own")
        if owner is not None and owner.get("name") == meta["name"]:
            # Controlled by an earlier run of this name: once that run is gone its
            # Workflow goes first, in the foreground, so the new one never meets the
            # old pods (Argo derives pod names from the Workflow name).
            if o.owner is OwnerState.UNKNOWN:
                return Fetch(Need.OWNER)
            if o.owner is OwnerState.GONE:
                return DeleteWorkflow(o.workflow, "Foreground",
                                      Requeue(FOREGROUND_WAIT_BASE, backoff=True))
        if submitted:  # ours was deleted; this one is someone else's
            return _ended(o, status, generation)
        if cancelled and not done:  # never submitted, and now never will be
            steps = cancelled_statuses(graph_from_orchestration(o.orchestration)) \
                if o.orchestration is not None else []
            return WriteStatus(st.cancelled_unsubmitted(status, steps, generation, o.now))
        message = st.not_owned_message(o.workflow, owner)
        return WriteStatus(st.waiting(status, SubmitReason.WORKFLOW_NOT_OWNED, message,
                                      generation, o.now), Requeue(NOT_OWNED_RECHECK))

    if o.last_seen is not None and _is_ours(o.last_seen, uid, o.trust):
        if done:
            return _as_it_was(status, generation, "ended; its Workflow is gone")
        return WriteStatus(_last_state(o, status, generation))

    if submitted:
        if not o.workflow_live:
            return Fetch(Need.WORKFLOW)
        return _ended(o, status, generation)
    if done:
        return _as_it_was(status, generation, "ended before submission (terminal)")
    if meta.get("deletionTimestamp"):
        return Done("being deleted: never submitted")
    if not o.run_live:
        return Fetch(Need.RUN)
    if cancelled:  # never submitted: once no Workflow of ours is known to exist
        if not o.workflow_live:
            return Fetch(Need.WORKFLOW)
        if o.orchestration is None and not o.orchestration_live:
            return Fetch(Need.ORCHESTRATION)
        steps = cancelled_statuses(graph_from_orchestration(o.orchestration)) \
            if o.orchestration is not None else []
        return WriteStatus(st.cancelled_unsubmitted(status, steps, generation, o.now))
    malformed = reference_refusal(o.run)  # before anything is read with it
    if malformed is not None:
        return WriteStatus(st.refused(status, *malformed, generation, o.now))
    if o.unreadable is not None:  # a reference the apiserver would not let us read
        return WriteStatus(st.refused(status, SubmitReason.REFERENCE_FORBIDDEN,
                                      o.unreadable.message, generation, o.now))
    if not o.orchestration_live:
        # Compiled from what the apiserver holds now, never the cache: a cache that
        # lags a `kubectl apply` made just before the run would compile the
        # generation before it, and the Workflow, once created, is not compiled again.
        return Fetch(Need.ORCHESTRATION)
    if o.orchestration is None:
        ref = ((o.run.get("spec") or {}).get("orchestrationRef") or {}).get("name") or ""
        return WriteStatus(st.refused(
            status, str(Reason.ORCHESTRATION_NOT_FOUND),
            f'Orchestration "{ref}" not found in namespace "{meta["namespace"]}"',
            generation, o.now))
    key = delivery_key(o.run)
    if key is not None:  # one execution per delivery (§5)
        if o.delivery is None:
            return Fetch(Need.DELIVERY)
        if o.delivery.name is not None and o.delivery.final:
            return WriteStatus(st.refused(status, SubmitReason.DUPLICATE_DELIVERY,
                                          duplicate_message(key, o.delivery.name),
                                          generation, o.now))
        if o.delivery.name is not None:
            return WriteStatus(st.waiting(status, SubmitReason.DUPLICATE_DELIVERY,
                                          waiting_message(key, o.delivery.name), generation,
                                          o.now), Requeue(DELIVERY_RECHECK))
    if o.submission is None:
        return Fetch(Need.SUBMISSION)
    if o.submission.workflow is None:
        steps = refused_statuses(graph_from_orchestration(o.orchestration), o.submission.reason)
        return WriteStatus(st.refused(status, o.submission.reason, o.submission.message,
                                      generation, o.now, steps))
    if o.refused is not None:
        message = st.create_failed_message(o.refused.code, o.refused.reason, o.refused.message)
        return WriteStatus(st.waiting(status, SubmitReason.WORKFLOW_CREATE_FAILED, message,
                                      generation, o.now),
                           Requeue(SUBMIT_RETRY_BASE, backoff=True))
    if o.submission.split:  # the set first, then each Workflow (`_decide_split`)
        names = [w["metadata"]["name"] for w in o.submission.split]
        return RecordWorkflows(st.split_recorded(
            status, names, generation, o.orchestration["metadata"].get("generation")))
    return Create(o.submission.workflow)


def _decide_split(o: Observed, status: Obj, recorded: list[Mapping[str, Any]], done: bool,
                  cancelled: bool, generation: int | None) -> Action:
    """A run split into several Workflows (contract §8, docs/scale.md phase 2). The
    status recorded the set by name before any was created; each name is then:
    ours (owned by the run and created by the controller: its uid sealed in the
    status, or created by this process) and mirrored; recorded with a uid and gone
    (its last state mirrored, else its steps as last recorded), so the run ends as
    one that ended early; never created (created now, from the same Orchestration
    generation, for a run read live); or someone else's: never adopted. All of
    them are mirrored into one evaluation, which decides the gates to release and
    whether the others are stopped because one ended early."""
    meta = o.run["metadata"]
    uid = meta["uid"]
    if done:
        held = _finalized([w for w in o.parts.values() if _is_ours(w, uid, o.trust)])
        return ReleaseFinalizers(held) if held else _as_it_was(status, generation,
                                                                "ended (a split run)")
    parts: list[Part] = []
    missing: list[str] = []
    for ref in recorded:
        name, had = str(ref["name"]), bool(ref.get("uid"))
        found = o.parts.get(name)
        if found is not None and _is_ours(found, uid, o.trust):
            parts.append(Part(name, found))
            continue
        last = o.parts_gone.get(name)
        if found is None and last is None and not o.parts_live:
            return Fetch(Need.PARTS)  # a cache miss is not proof it is gone
        if found is not None and not had:
            if not o.run_live:  # a cache may lag our own status write that records it
                return Fetch(Need.RUN)
            if _claims(found, uid):  # not created by the controller: never adopted
                return DeleteWorkflow(found, "Foreground",
                                      Requeue(FOREGROUND_WAIT_BASE, backoff=True))
            return WriteStatus(st.waiting(status, SubmitReason.WORKFLOW_NOT_OWNED,
                                          st.not_owned_message(found, controller_owner(found)),
                                          generation, o.now), Requeue(NOT_OWNED_RECHECK))
        if had:  # ours existed and is gone (or another stands in its place)
            ours = last is not None and _is_ours(last, uid, o.trust)
            parts.append(Part(name, last if ours else None, gone=True))
        else:
            missing.append(name)
    if missing:
        made = _make_missing(o, status, missing, cancelled, generation)
        if made is not None:
            return made
        parts += [Part(n, None, gone=True) for n in missing]  # never made, never will be
    if cancelled and not o.cancel_applied:
        running = [p.workflow for p in parts if p.workflow is not None and not p.gone]
        if o.created is None:
            return Fetch(Need.CREATED)
        plans = tuple((wf, plan) for wf in running if not (plan := plan_cancel(
            o.run, wf, o.created.runs, o.created.agent_runs)).empty)
        if plans:
            return CancelWorkflows(plans)
    seen = mirror_split(parts, status, o.now, cancelled=cancelled)
    by_name = {p.name: p.workflow for p in parts if p.workflow is not None}
    if seen.stop:
        return StopWorkflows(tuple(by_name[n] for n in seen.stop))
    releases = {n: list(r) for n, r in seen.releases}
    due: Requeue | None = None
    waiting = [] if cancelled else [(p.name, w) for p in parts if p.workflow is not None
                                    and not p.gone for w in workflow_waits(p.workflow)]
    if waiting:  # ApprovalGate and SignalWait steps, in any of the Workflows
        planned = _plan_split_waits(o, waiting)
        if not isinstance(planned, Requeue | dict | None):
            return planned
        if isinstance(planned, dict):
            for n, r in planned.items():
                releases.setdefault(n, []).extend(r)
        else:
            due = planned
    if releases and not o.released:
        # At most RELEASE_WRITES Workflows written per round (the rest next round),
        # so a round stays short beside the Lease that fences it.
        batch = list(releases.items())[:RELEASE_WRITES]
        return ReleaseGates(tuple((by_name[n], tuple(r)) for n, r in batch))
    if releases:
        # One round of releases per reconcile: a big run keeps ending sources, and a
        # loop of rounds would keep its status from being written. Now, then again.
        due = Requeue(0.0)
    if seen.mirror.phase in RUN_DONE:  # before the final write: after it, no event wakes it
        held = _finalized([p.workflow for p in parts if p.workflow is not None and not p.gone])
        if held:
            return ReleaseFinalizers(held)
    refs = [_ref(ref, o.parts.get(str(ref["name"])), uid, o.trust) for ref in recorded]
    return WriteStatus(st.mirrored_split(status, seen.mirror, refs, generation, o.now), due)


def _plan_split_waits(o: Observed, waiting: list[tuple[str, WaitingNode]]
                      ) -> Action | dict[str, list[Release]] | Requeue | None:
    """The waits of a split run's Workflows, decided as one Workflow's are: a fact
    to fetch, the releases by Workflow, or when to look again (None: never)."""
    if o.waits is None:
        return Fetch(Need.WAITS)
    now = parse_time(o.now)
    assert now is not None
    plan = plan_waits([w for _, w in waiting], o.waits, now)
    if plan.unconfirmed:
        return Fetch(Need.POLICIES)
    if plan.releases:
        holder = {w.node_id: name for name, w in waiting}
        out: dict[str, list[Release]] = {}
        for r in plan.releases:
            out.setdefault(holder[r.node_id], []).append(r)
        return out
    if plan.deadline is None:
        return None
    return Requeue(max(0.0, (plan.deadline - now).total_seconds()) + DUE_MARGIN)


def _finalized(workflows: list[Obj]) -> tuple[Obj, ...]:
    """Those of a split run's Workflows that still carry its finalizer."""
    return tuple(w for w in workflows
                 if RUN_ACTIVE_FINALIZER in ((w.get("metadata") or {}).get("finalizers") or ()))


def _ref(recorded: Mapping[str, Any], found: Obj | None, run_uid: str, trust: Trust) -> Obj:
    """A split run's `status.workflows` entry: its name, and its namespace and uid
    once the controller created it."""
    if found is not None and _is_ours(found, run_uid, trust):
        meta = found["metadata"]
        return {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]}
    return dict(recorded)


def _make_missing(o: Observed, status: Obj, missing: list[str], cancelled: bool,
                  generation: int | None) -> Action | None:
    """A recorded Workflow that was never created: create it (from the run read
    live and the Orchestration generation the set was compiled from), or None when
    it never will be (a cancel, the run being deleted, the Orchestration changed or
    gone since the set was recorded): then it counts as ended early."""
    if cancelled or o.run["metadata"].get("deletionTimestamp"):
        return None
    if not o.run_live:
        return Fetch(Need.RUN)
    if not o.orchestration_live:
        return Fetch(Need.ORCHESTRATION)
    if o.orchestration is None or (o.orchestration["metadata"].get("generation")
                                   != status.get("orchestrationGeneration")):
        return None
    if o.submission is None:
        return Fetch(Need.SUBMISSION)
    bodies = {w["metadata"]["name"]: w for w in o.submission.split}
    if any(n not in bodies for n in missing):
        return None
    if o.refused is not None:
        message = st.create_failed_message(o.refused.code, o.refused.reason, o.refused.message)
        return WriteStatus(st.waiting(status, SubmitReason.WORKFLOW_CREATE_FAILED, message,
                                      generation, o.now),
                           Requeue(SUBMIT_RETRY_BASE, backoff=True))
    return CreateWorkflows(tuple(bodies[n] for n in missing))


def _impostor(o: Observed, status: Obj, done: bool, submitted: bool,
              generation: int | None) -> Action:
    """A Workflow that names the run as its owner but that the controller did not
    create (a forged ownerReference; or, after a restart, one whose creation was
    never recorded): never mirrored. Judged from the run read live (a cached run
    may not show yet the status write that recorded the Workflow: a new leader's
    cache, say). Before submission it is deleted (in the foreground, its pods
    first) and the run then submits its own; once the run recorded its own
    Workflow, this one stands where that one was, so that one is gone (§5,
    deleted)."""
    assert o.workflow is not None
    if done:
        return _as_it_was(status, generation,
                          "ended; a Workflow it did not create names it as owner")
    if not o.run_live:  # a cache may lag our own status write that records it
        return Fetch(Need.RUN)
    if submitted:
        return _ended(o, status, generation)
    return DeleteWorkflow(o.workflow, "Foreground", Requeue(FOREGROUND_WAIT_BASE, backoff=True))


def _release(o: Observed, waits: list[WaitingNode]) -> Action | Requeue | None:
    """The Workflow's waits: a fact to fetch, the waits to release, or when to look
    again (the next timeout, and not before; None: no timeout pending)."""
    assert o.workflow is not None
    if o.waits is None:
        return Fetch(Need.WAITS)
    now = parse_time(o.now)
    assert now is not None
    plan = plan_waits(waits, o.waits, now)
    if plan.unconfirmed:
        return Fetch(Need.POLICIES)
    if plan.releases:
        return ReleaseWaits(o.workflow, plan.releases)
    if plan.deadline is None:
        return None
    return Requeue(max(0.0, (plan.deadline - now).total_seconds()) + DUE_MARGIN)


def _as_it_was(status: Obj, generation: int | None, why: str) -> Action:
    """An ended run, woken: nothing changes it (contract §3), whatever its
    Workflow did since (Argo ending the nodes a cancel stopped, say). When its
    generation moved (a re-apply of `spec.cancel`), the status says it describes
    the new one too, so that the run counts as settled again; nothing else moves."""
    if status.get("observedGeneration") == generation:
        return Done(why)
    return WriteStatus({**{k: v for k, v in status.items() if k != SEAL},
                        "observedGeneration": generation})


def _ended(o: Observed, status: Obj, generation: int | None) -> Action:
    """Our Workflow is gone and its last state was not seen: the run ends as §3 says
    of a Workflow that ended early, from what was last mirrored."""
    if status.get("phase") in RUN_DONE:
        return _as_it_was(status, generation, "ended; its Workflow is gone")
    return WriteStatus(st.mirrored(status, mirror_deleted(status, o.now), None, generation,
                                   o.now))


def _last_state(o: Observed, status: Obj, generation: int | None) -> Obj:
    """The deleted Workflow's last state, mirrored: its final result when it had
    ended (a TTL, a person cleaning up); when it had not, that state ended early."""
    assert o.last_seen is not None
    seen = st.mirrored(status, mirror_workflow(o.last_seen, status, o.now,
                                               cancelled=is_cancel_requested(o.run)),
                       o.last_seen, generation, o.now)
    if (o.last_seen.get("status") or {}).get("phase") in ARGO_DONE:
        return seen
    return st.mirrored(seen, mirror_deleted(seen, o.now), None, generation, o.now)


def decide_orphan(run_name: str, workflow: Obj | None, owner: OwnerState) -> Action:
    """The run is gone: delete its Workflow, as the garbage collector would (for
    clusters without one, and to be prompt): only a Workflow whose controlling
    owner is a run of that name that no longer exists."""
    found = controller_owner(workflow) if workflow is not None else None
    if workflow is None or found is None or found.get("name") != run_name \
            or workflow["metadata"].get("deletionTimestamp"):
        return Done("no Workflow of that run left")
    if owner is OwnerState.UNKNOWN:
        return Fetch(Need.OWNER)
    if owner is OwnerState.GONE:
        return DeleteWorkflow(workflow, "Background")
    return Done("its owner exists (a new run of that name)")
