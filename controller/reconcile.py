"""Reconcile one key: the thin executor of `controller.decide`.

Why thin: every choice is made by `decide` (pure, table-tested), and a run's Workflow
is assembled by `controller.submission` (pure, table-tested); this module only
gathers what they ask for (from the caches first, from the apiserver when it must),
performs the one action `decide` returns (a cancel, a guarded delete: the requests
are `controller.effects`'), and feeds the outcome back (a refused create, a Workflow
that already exists). A new run: Fetch(RUN), Fetch(ORCHESTRATION), [Fetch(DELIVERY)],
Fetch(SUBMISSION), Create, WriteStatus; a new split run (contract §8): the same up to
the submission, then RecordWorkflows (its set, by name), Fetch(PARTS), CreateWorkflows,
WriteStatus. Reconciliation is level-based: it reads the
current state and ignores which event woke it, so a missed or duplicated event
cannot change the outcome. A status write that meets a newer version (409) starts
over from a live read (`retry_on_conflict`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace

from compiler.argo_defaults import Judgement
from compiler.emit import workflow_name
from compiler.jsoncost import GATE
from compiler.pods import DEFAULT_PODS, PodSettings
from compiler.tools import Tool
from controller import conditions as conds
from controller import effects
from controller import status as st
from controller import submission as sub
from controller.admission import InstallLimits
from controller.cancel import stop_patch
from controller.capacity import ActiveRuns, limit_message, waits_for_a_slot_unread
from controller.decide import (
    Cancel,
    CancelWorkflows,
    Create,
    Created,
    CreateRefused,
    CreateWorkflows,
    DeleteWorkflow,
    Done,
    Fetch,
    Need,
    Observed,
    RecordWorkflows,
    ReleaseFinalizers,
    ReleaseGates,
    ReleaseWaits,
    Requeue,
    StopWorkflows,
    Submission,
    WriteStatus,
    decide,
)
from controller.deliveries import delivery_holder, delivery_key
from controller.events import Recorder, events_for
from controller.judged import Judgements
from controller.kube import AlreadyExistsError, ApiError, Kube, retry_on_conflict
from controller.mapping import ORCHESTRATION, Key, Lookup, controller_owner
from controller.orchestrations import reconcile_orchestration
from controller.pacing import Pacer
from controller.release import DeliveryLookup, confirm_policies, release, wait_facts
from controller.resuming import resume_from
from controller.seal import Sealer, untrusted_view
from controller.suspend import NodeUpdateError, hydrated
from controller.waitindex import Target, workflow_targets
from controller.waits import WaitFacts
from orchapi.api import (
    ORCHESTRATIONS,
    RUN_LABEL,
    RUNS,
    TOOLS,
    WORKFLOWS,
    Obj,
    Resource,
    delivery_selector,
)
from orchapi.argo import WORKFLOW_KIND
from orchapi.names import label_value
from orchapi.vocabulary import RUN_DONE, SubmitReason

log = logging.getLogger("orch.reconcile")


def recorded_workflows(run: Obj) -> list[str]:
    """The Workflows a split run's status names (contract §8), by name."""
    return [str(w["name"]) for w in (run.get("status") or {}).get("workflows") or ()
            if isinstance(w, dict) and isinstance(w.get("name"), str)]
MAX_DECISIONS = 12  # decide -> fetch -> decide ...: a handful per reconcile
# A create refused with one of these is the run's problem to show (quota, RBAC,
# admission, invalid): Submitted=False and backoff. Others (5xx, 429, timeouts) are
# the cluster's: the reconcile fails and is retried like any error.
REFUSED_CODES = frozenset({400, 403, 404, 413, 422})
NODE_UPDATE_RECHECK = 60.0  # s: a wait whose Workflow cannot be written (offloaded)
FORBIDDEN = 403  # reading what a run names: a terminal refusal, not a retry (contract §6)
BAD_REQUEST = 400
DELIVERY_LOCKS = 64  # striped: one per delivery key, few enough to keep for good


CAPACITY_RECHECK = 300.0  # s: a run waiting for a slot looks again (it is woken sooner)

# What the wait index is told about a run's Workflow: (namespace, workflow name,
# the run's key or None when no run of ours waits there, what its waits wait on).
WaitsSink = Callable[[str, str, Key | None, list[Target]], None]


@dataclass(frozen=True)
class Result:
    requeue_after: float | None = None
    backoff: bool = False  # requeue_after is the base of the key's exponential backoff

    @staticmethod
    def of(requeue: Requeue | None) -> Result:
        return Result() if requeue is None else Result(requeue.after, requeue.backoff)


@dataclass(kw_only=True)
class Caches:
    """What the informers hold, by kind: each lookup is (namespace, name) -> the
    object or None. Named, never positional: they are of one type, and two swapped
    would still type-check."""

    orchestration: Lookup
    run: Lookup
    workflow: Lookup
    deleted_workflow: Lookup = lambda _ns, _name: None  # last state of a deleted one
    forget_deleted_workflow: Callable[[str, str, str], None] = lambda _ns, _n, _uid: None
    policy: Lookup = lambda _ns, _name: None  # an ApprovalPolicy
    deliveries: DeliveryLookup = lambda _ns, _spec: ()  # SignalDeliveries a wait may match


class Reconciler:
    def __init__(self, kube: Kube, caches: Caches, recorder: Recorder,
                 service_account: str | None = None, pods: PodSettings = DEFAULT_PODS,
                 limits: InstallLimits | None = None, sealer: Sealer | None = None,
                 argo_defaults: Callable[[], Judgement] | None = None,
                 waits: WaitsSink | None = None, capacity: ActiveRuns | None = None,
                 pacer: Pacer | None = None) -> None:
        self.kube, self.caches, self.recorder = kube, caches, recorder
        # When a write that only advances steps may wait (controller.pacing).
        self.pacer = pacer or Pacer()
        self.settings = sub.Settings(service_account, pods, limits or InstallLimits())
        # Each Orchestration generation is validated once for all its runs.
        self.judgements = Judgements(self.settings.limits.max_steps)
        self.waits = waits
        self.capacity = capacity
        # The cluster's Argo defaults, judged (compiler.argo_defaults); None: not read.
        self.argo_defaults = argo_defaults
        # The install's key (controller.sealkey); a key of its own when none is given
        # (then nothing from before this object is believed).
        self.sealer = sealer or Sealer.generate()
        # run key -> (run uid, Workflow uid) this process created and the run's sealed
        # status may not record yet (a lost status write, a 409): proof it is ours.
        self.created: dict[Key, tuple[str, str]] = {}
        # The same for the Workflows of split runs (contract §8): run key -> (run uid,
        # the uids of those this process created).
        self.created_split: dict[Key, tuple[str, frozenset[str]]] = {}
        self._delivery_locks = [threading.Lock() for _ in range(DELIVERY_LOCKS)]
        self._field_selectors = True  # the CRD's selectable fields (until a 400 says no)
        # key -> resourceVersion of our last write (a run's status, or a Workflow we
        # created), so the watch's echo of it is not reconciled again.
        self.written: dict[Key, str] = {}

    def reconcile(self, key: Key) -> Result:
        try:
            if key.kind == ORCHESTRATION:
                rv = reconcile_orchestration(self.kube, self.caches.orchestration, key,
                                             self.settings.limits.max_steps)
                if rv:
                    self.written[key] = rv
                return Result()
            return retry_on_conflict(lambda attempt: self._reconcile_run(key, live=attempt > 0))
        finally:
            GATE.release_held()  # what this reconcile read is let go with it

    def forget(self, key: Key) -> None:
        """The object was deleted: its last write need not be remembered."""
        self.written.pop(key, None)
        self.created.pop(key, None)
        self.created_split.pop(key, None)
        self.pacer.forget(key)

    def _trusted(self, o: Observed) -> Observed:
        """`o` with what the controller may believe of its run (controller.seal)."""
        meta = o.run["metadata"]
        key = Key(o.run["kind"], meta["namespace"], meta["name"])
        mine = self.created.get(key)
        created = [mine[1]] if mine is not None and mine[0] == meta["uid"] else []
        split = self.created_split.get(key)
        if split is not None and split[0] == meta["uid"]:
            created += sorted(split[1])
        return replace(o, trust=self.sealer.trust(o.run, created))

    # -- OrchestrationRun ----------------------------------------------------------------
    def _reconcile_run(self, key: Key, live: bool) -> Result:
        ns = key.namespace
        run = self.kube.get(RUNS, ns, key.name) if live else self.caches.run(ns, key.name)
        wf_name = workflow_name(key.name)
        if run is None:
            self._index_waits(key, None, "")
            effects.release_orphaned_finalizers(self.kube, key,
                                                self.caches.workflow(ns, f"{wf_name}-1"))
            return Result.of(effects.collect_orphan(self.kube, key,
                                                    self.caches.workflow(ns, wf_name)))
        ref = ((run.get("spec") or {}).get("orchestrationRef") or {}).get("name") or ""
        uid = str(run["metadata"].get("uid") or "")
        workflow = hydrated(self.caches.workflow(ns, wf_name), uid)
        self._index_waits(key, workflow, uid)
        recorded = recorded_workflows(run)
        parts = {n: wf for n in recorded
                 if (wf := hydrated(self.caches.workflow(ns, n), uid)) is not None}
        gone = {n: wf for n in recorded if n not in parts
                and (wf := hydrated(self.caches.deleted_workflow(ns, n), uid)) is not None}
        for part in parts.values():  # a split run's waits, in any of its Workflows
            self._index_waits(key, part, uid)
        o = self._trusted(Observed(
            run=run, now=conds.now_rfc3339(), run_live=live, workflow=workflow,
            last_seen=self.caches.deleted_workflow(ns, wf_name),
            orchestration=self.caches.orchestration(ns, ref) if ref else None,
            parts=parts, parts_gone=gone))
        # Locks a decision takes (a delivery's), held until this reconcile ends.
        with ExitStack() as held:
            for _ in range(MAX_DECISIONS):
                action = decide(o)
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("decided", extra={
                        "run": f"{ns}/{key.name}", "action": type(action).__name__,
                        "detail": getattr(action, "need", None)
                        or getattr(action, "why", None),
                        "workflow_seen": o.workflow is not None,
                        "last_seen": o.last_seen is not None, "run_live": o.run_live})
                if isinstance(action, Fetch):
                    if action.need is Need.SUBMISSION and self.capacity is not None \
                            and not self.capacity.admit(key, o.run):
                        # Before compiling: a run that waits for a slot costs no compile.
                        return self._wait_for_slot(key, o)
                    if action.need in (Need.RUN, Need.ORCHESTRATION) \
                            and self.capacity is not None and waits_for_a_slot_unread(o) \
                            and self.capacity.must_wait(key, o.run):
                        # Before the live reads too: a waiting run costs one status
                        # write (none once it says so), not two reads of an apiserver
                        # its tenant keeps busy (issue 22). From the cached run: a stale
                        # one fails the write's resourceVersion check and is read again.
                        return self._wait_for_slot(key, o)
                    fetched = self._fetch(o, action.need, wf_name, ref, held)
                    if fetched is None:
                        return Result()  # the run is gone or was re-created: its own event
                    o = fetched
                elif isinstance(action, Create):
                    if self.capacity is not None and not self.capacity.admit(key, o.run):
                        return self._wait_for_slot(key, o)
                    o = self._create(o, action.workflow)
                elif isinstance(action, WriteStatus):
                    later = self.pacer.hold(key, o.run.get("status") or {}, action.status) \
                        if o.trust.status else None
                    if later is not None:  # only steps moved along: written a little later
                        due = action.requeue
                        return Result(later if due is None or due.backoff
                                      else min(later, due.after))
                    written = self._write(o.run, action.status)
                    if action.status.get("phase") in RUN_DONE and o.last_seen is not None:
                        last_uid = str(o.last_seen["metadata"].get("uid") or "")
                        self.caches.forget_deleted_workflow(ns, wf_name, last_uid)
                    if written:
                        log.debug("status written", extra={"run": f"{ns}/{key.name}"})
                    return Result.of(action.requeue)
                elif isinstance(action, DeleteWorkflow):
                    effects.delete_if_still_owned(self.kube, action.workflow, action.propagation)
                    return Result.of(action.requeue)
                elif isinstance(action, Cancel):
                    effects.cancel(self.kube, action.workflow, action.plan)
                    o = replace(o, cancel_applied=True)
                elif isinstance(action, ReleaseWaits):
                    try:
                        released = release(self.kube, action.workflow, action.releases)
                    except NodeUpdateError as e:  # offloaded or too large: not ours to write
                        log.warning("cannot release a wait", extra={
                            "run": f"{ns}/{key.name}", "error": str(e)})
                        return Result(NODE_UPDATE_RECHECK)
                    now_seen = hydrated(released or self.kube.get(WORKFLOWS, ns, wf_name), uid)
                    self._index_waits(key, now_seen, uid)
                    o = replace(o, workflow=now_seen, workflow_live=True, waits=None)
                elif isinstance(action, RecordWorkflows):
                    o = self._trusted(replace(o, run=self._write_run(o.run, action.status),
                                              run_live=True))
                elif isinstance(action, CreateWorkflows):
                    if self.capacity is not None and not self.capacity.admit(key, o.run):
                        return self._wait_for_slot(key, o)
                    o = self._create_split(o, action.workflows)
                elif isinstance(action, ReleaseGates):
                    try:
                        o = self._release_gates(o, action)
                    except NodeUpdateError as e:  # offloaded or too large: not ours to write
                        log.warning("cannot release a gate", extra={
                            "run": f"{ns}/{key.name}", "error": str(e)})
                        return Result(NODE_UPDATE_RECHECK)
                elif isinstance(action, StopWorkflows):
                    o = self._stop_split(o, action.workflows)
                elif isinstance(action, ReleaseFinalizers):
                    parts = dict(o.parts)
                    for wf in action.workflows:
                        unheld = effects.release_finalizer(self.kube, wf)
                        # Gone, or released by someone else: no finalizer either way.
                        parts[wf["metadata"]["name"]] = hydrated(unheld, uid) or unheld \
                            if unheld is not None \
                            else {**wf, "metadata": {**wf["metadata"], "finalizers": []}}
                    o = replace(o, parts=parts)
                elif isinstance(action, CancelWorkflows):
                    for wf, plan in action.plans:
                        effects.cancel(self.kube, wf, plan)
                    o = replace(o, cancel_applied=True)
                else:
                    assert isinstance(action, Done)
                    return Result.of(action.requeue)
            raise RuntimeError(f"{key}: no decision after {MAX_DECISIONS} rounds")

    def _wait_for_slot(self, key: Key, o: Observed) -> Result:
        """The namespace has as many active runs as the install allows: the run
        waits, saying so, until a slot frees (`ActiveRuns` wakes it; the recheck
        is a safety net, not the mechanism)."""
        assert self.capacity is not None and self.capacity.limit is not None
        status = o.run.get("status") or {}
        self._write(o.run, st.waiting(
            status, SubmitReason.ACTIVE_RUN_LIMIT,
            limit_message(key.namespace, self.capacity.limit),
            o.run["metadata"].get("generation"), o.now))
        return Result(CAPACITY_RECHECK)

    def _index_waits(self, key: Key, workflow: Obj | None, run_uid: str) -> None:
        """Tell the wait index what the run's Workflow waits on (nothing, when the
        run does not own it): read here, by a worker, from a Workflow this run
        owns, never by the watch from whatever carries the run label (issue 22)."""
        if self.waits is None:
            return
        name = workflow_name(key.name) if workflow is None else workflow["metadata"]["name"]
        owner = controller_owner(workflow) if workflow is not None else None
        if workflow is None or owner is None or owner.get("uid") != run_uid:
            self.waits(key.namespace, name, None, [])
            return
        self.waits(key.namespace, name, key, workflow_targets(workflow))

    def _fetch(self, o: Observed, need: Need, wf_name: str, ref: str,
               held: ExitStack) -> Observed | None:
        meta = o.run["metadata"]
        ns = meta["namespace"]
        if need is Need.DELIVERY:
            key = delivery_key(o.run)
            assert key is not None
            # Decided and carried out (the create) under the delivery's lock, so two
            # workers never both find it free (controller.deliveries).
            held.enter_context(self._delivery_locks[hash(key) % len(self._delivery_locks)])
            others = self._delivery_runs(key)
            trusted = {str(r["metadata"]["name"]) for r in others
                       if self.sealer.trusts_status(r)}
            return replace(o, delivery=delivery_holder(o.run, others,
                                                       self._holding(ns, others), trusted))
        if need is Need.RUN:
            # The Orchestration is read after the run, on this worker's thread: a read
            # holds its parse cost (compiler.jsoncost) until this thread's reconcile
            # ends, so a read on another thread would never give it back.
            live = self.kube.get(RUNS, ns, meta["name"])
            if live is None or live["metadata"]["uid"] != meta["uid"]:
                return None
            return self._trusted(replace(o, run=live, run_live=True))
        if need is Need.WORKFLOW:
            return replace(o, workflow=hydrated(self.kube.get(WORKFLOWS, ns, wf_name),
                                                str(meta["uid"])), workflow_live=True)
        if need is Need.OWNER:
            owner = controller_owner(o.workflow) if o.workflow is not None else None
            return replace(o, owner=effects.owner_state(self.kube, ns, owner))
        if need is Need.PARTS:
            uid = str(meta["uid"])
            live_parts = {n: wf for n in recorded_workflows(o.run)
                          if (wf := hydrated(self.kube.get(WORKFLOWS, ns, n), uid)) is not None}
            return replace(o, parts=live_parts, parts_live=True)
        if need is Need.CREATED and o.workflow is None and o.parts:  # a split run
            made = [effects.created_by(self.kube, wf) for wf in o.parts.values()]
            return replace(o, created=Created(
                tuple(r for m in made for r in m.runs),
                tuple(a for m in made for a in m.agent_runs)))
        if need is Need.CREATED:
            assert o.workflow is not None
            return replace(o, created=effects.created_by(self.kube, o.workflow))
        if need is Need.ORCHESTRATION:
            return self._read_orchestration(ns, ref)(o)
        if need is Need.WAITS and o.workflow is None and o.parts:  # a split run
            each = [wait_facts(wf, self.caches.policy, self.caches.deliveries)
                    for wf in o.parts.values()]
            # Policies are the namespace's; deliveries are by node id (unique to a
            # Workflow): one set of facts serves every Workflow's waits.
            return replace(o, waits=WaitFacts(
                {k: v for f in each for k, v in f.policies.items()},
                {k: v for f in each for k, v in f.deliveries.items()}))
        if need is Need.WAITS:
            assert o.workflow is not None
            return replace(o, waits=wait_facts(o.workflow, self.caches.policy,
                                               self.caches.deliveries))
        if need is Need.POLICIES:
            assert o.waits is not None
            return replace(o, waits=confirm_policies(self.kube, ns, o.waits))
        assert o.orchestration is not None
        return replace(o, submission=self.submission(o.orchestration, o.run))

    def _read_orchestration(self, ns: str, ref: str) -> Callable[[Observed], Observed]:
        """The run's Orchestration read live, as what it adds to an Observed (no
        name: nothing to read, it is not found; a 403 makes it unreadable)."""
        try:
            found = self.kube.get(ORCHESTRATIONS, ns, ref) if ref else None
        except ApiError as e:
            if e.status != FORBIDDEN:
                raise
            unreadable = CreateRefused(e.status, e.reason, sub.forbidden_message(
                "Orchestration", ref, ns, e.status, e.reason, e.message))
            return lambda seen: replace(seen, orchestration_live=True, unreadable=unreadable)
        return lambda seen: replace(seen, orchestration=found, orchestration_live=True)

    def _create(self, o: Observed, body: Obj) -> Observed:
        ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
        try:
            wf = self.kube.create(WORKFLOWS, ns, body)
        except AlreadyExistsError:
            # Ours from an earlier attempt whose status write was lost (adopted), or
            # someone else's (never adopted): decide sees which.
            return replace(o, workflow=self.kube.get(WORKFLOWS, ns, name), workflow_live=True)
        except ApiError as e:
            if e.status not in REFUSED_CODES:
                raise
            log.warning("workflow create refused", extra={
                "run": f"{ns}/{o.run['metadata']['name']}", "code": e.status,
                "error": e.message})
            return replace(o, refused=CreateRefused(e.status, e.reason, e.message))
        self.written[Key(WORKFLOW_KIND, ns, name)] = wf["metadata"]["resourceVersion"]
        run_meta = o.run["metadata"]
        self.created[Key(o.run["kind"], ns, run_meta["name"])] = (run_meta["uid"],
                                                                  wf["metadata"]["uid"])
        log.info("workflow created", extra={"run": f"{ns}/{run_meta['name']}",
                                            "workflow": name})
        return self._trusted(replace(o, workflow=wf, workflow_live=True))

    def _create_split(self, o: Observed, bodies: tuple[Obj, ...]) -> Observed:
        """Create the missing Workflows of a split run; each one that exists already
        is read live instead (`decide` judges whether it is ours)."""
        meta = o.run["metadata"]
        ns, run_key = meta["namespace"], Key(o.run["kind"], meta["namespace"], meta["name"])
        parts = dict(o.parts)
        for body in bodies:
            name = body["metadata"]["name"]
            try:
                wf = self.kube.create(WORKFLOWS, ns, body)
            except AlreadyExistsError:
                found = self.kube.get(WORKFLOWS, ns, name)
                if found is not None:
                    parts[name] = hydrated(found, str(meta["uid"])) or found
                continue
            except ApiError as e:
                if e.status not in REFUSED_CODES:
                    raise
                log.warning("workflow create refused", extra={
                    "run": f"{ns}/{meta['name']}", "code": e.status, "error": e.message})
                return replace(o, parts=parts, refused=CreateRefused(e.status, e.reason,
                                                                      e.message))
            self.written[Key(WORKFLOW_KIND, ns, name)] = wf["metadata"]["resourceVersion"]
            run_uid, uids = self.created_split.get(run_key, (meta["uid"], frozenset()))
            if run_uid != meta["uid"]:
                uids = frozenset()
            self.created_split[run_key] = (meta["uid"], uids | {wf["metadata"]["uid"]})
            parts[name] = wf
            log.info("workflow created", extra={"run": f"{ns}/{meta['name']}",
                                                "workflow": name})
        return self._trusted(replace(o, parts=parts, parts_live=True))

    def _release_gates(self, o: Observed, action: ReleaseGates) -> Observed:
        o = self._released(o, action)
        for wf in o.parts.values():
            self._index_waits(Key(o.run["kind"], o.run["metadata"]["namespace"],
                                  o.run["metadata"]["name"]), wf,
                              str(o.run["metadata"]["uid"]))
        return replace(o, waits=None, released=True)

    def _released(self, o: Observed, action: ReleaseGates) -> Observed:
        """Each Workflow's gates in one write (`controller.release`), then the
        Workflows as written."""
        uid = str(o.run["metadata"]["uid"])
        parts = dict(o.parts)
        for wf, releases in action.gates:
            meta = wf["metadata"]
            written = release(self.kube, wf, releases)
            now_seen = hydrated(written or self.kube.get(WORKFLOWS, meta["namespace"],
                                                          meta["name"]), uid)
            if now_seen is None:
                parts.pop(meta["name"], None)
            else:
                parts[meta["name"]] = now_seen
        return replace(o, parts=parts, parts_live=True)

    def _stop_split(self, o: Observed, workflows: tuple[Obj, ...]) -> Observed:
        """Stop these Workflows of a split run (`spec.shutdown: Stop`, as `argo stop`)."""
        uid = str(o.run["metadata"]["uid"])
        parts = dict(o.parts)
        for wf in workflows:
            meta = wf["metadata"]
            patched = self.kube.patch(WORKFLOWS, meta["namespace"], meta["name"], stop_patch())
            log.info("workflow stopped: another of its run ended early",
                     extra={"workflow": f"{meta['namespace']}/{meta['name']}"})
            if patched is None:
                parts.pop(meta["name"], None)
            else:
                parts[meta["name"]] = hydrated(patched, uid) or patched
        return replace(o, parts=parts, parts_live=True)

    def submission(self, orch: Obj, run: Obj) -> Submission:
        """The Workflow for this run, or why there is none (terminal): the reads
        `controller.submission` asks for, in its order, and its answer."""
        ns = run["metadata"]["namespace"]
        judged = self.judgements.judge(orch)
        refused = sub.refusal(orch, run, judged, self.settings.limits,
                              self.caches.orchestration)
        if refused is not None or judged.model is None:
            return refused or Submission(None)
        resumed = sub.NOT_RESUMED
        old_name = resume_from(run)
        if old_name is not None:  # contract §3: reuse what the old run did (read live)
            old = self._read(RUNS, ns, old_name[0])
            trusted = old.found is not None and self.sealer.trusts_status(old.found)
            # A split old run's Workflows: the records its budgeted status lacks.
            old_parts = self._old_parts(old.found) if trusted and old.found else []
            resumed_or_refused = sub.resumption(run, orch, judged.model, old, trusted,
                                                old_parts)
            if isinstance(resumed_or_refused, Submission):
                return resumed_or_refused
            resumed = resumed_or_refused
        tools: dict[str, Tool] = {}
        for name in sub.tools_to_read(judged.model, resumed.reused):
            tool = sub.judge_tool(name, self._read(TOOLS, ns, name))
            if isinstance(tool, Submission):
                return tool
            if tool is not None:
                tools[name] = tool
        defaults = self.argo_defaults() if self.argo_defaults is not None else Judgement()
        return sub.assemble(orch, run, judged.model, resumed, tools, self.settings, defaults,
                            self.caches.orchestration)

    def _old_parts(self, old: Obj) -> list[Obj]:
        """The Workflows of a split old run that it controls, read live."""
        meta = old["metadata"]
        found = [self._read(WORKFLOWS, meta["namespace"], n).found
                 for n in recorded_workflows(old)]
        return [wf for wf in found if wf is not None
                and (controller_owner(wf) or {}).get("uid") == meta["uid"]]

    def _read(self, res: Resource, namespace: str, name: str) -> sub.Read:
        """An object the run names, read live; a 403 is a refusal the run shows,
        never retried (contract §6)."""
        try:
            return sub.Read(self.kube.get(res, namespace, name))
        except ApiError as e:
            if e.status != FORBIDDEN:
                raise
            return sub.Read(None, sub.forbidden_message(res.kind, name, namespace, e.status,
                                                         e.reason, e.message))

    def _delivery_runs(self, key: tuple[str, str, str]) -> list[Obj]:
        """The runs with this delivery key, read live: by field selector (the CRD
        declares both fields selectable), else the namespace's runs, filtered."""
        ns, orchestration, delivery = key
        if self._field_selectors:
            selector = delivery_selector(orchestration, delivery)
            try:
                return [r for page, _ in self.kube.list_pages(RUNS, ns,
                                                               field_selector=selector)
                        for r in page if delivery_key(r) == key]
            except ApiError as e:
                if e.status != BAD_REQUEST:
                    raise
                log.warning("the OrchestrationRun CRD declares no selectable fields (an "
                            "older CRD?); listing whole namespaces for deliveries",
                            extra={"error": e.message})
                self._field_selectors = False
        return [r for page, _ in self.kube.list_pages(RUNS, ns) for r in page
                if delivery_key(r) == key]

    def _holding(self, ns: str, runs: list[Obj]) -> set[str]:
        """Of `runs`, the ones a Workflow of their own exists for (or that this
        process created one for): by the run label, in chunks (a selector's length)."""
        uids = {str(r["metadata"]["uid"]): str(r["metadata"]["name"]) for r in runs}
        mine = tuple(self.created.values())  # a copy: other workers add to it meanwhile
        out = {uids[run_uid] for (run_uid, _) in mine if run_uid in uids}
        labels = sorted({label_value(name) for name in uids.values()})
        for i in range(0, len(labels), 50):
            selector = f"{RUN_LABEL} in ({','.join(labels[i:i + 50])})"
            for page, _ in self.kube.list_pages(WORKFLOWS, ns, selector):
                for wf in page:
                    owner = controller_owner(wf)
                    if owner is not None and str(owner.get("uid")) in uids:
                        out.add(uids[str(owner.get("uid"))])
        return out

    # -- writes ---------------------------------------------------------------------------
    def _write_run(self, run: Obj, new: Obj) -> Obj:
        """Write the status; the run as written (as it was, when nothing changed)."""
        return self._write_status(run, new) or run

    def _write(self, run: Obj, new: Obj) -> bool:
        return self._write_status(run, new) is not None

    def _write_status(self, run: Obj, new: Obj) -> Obj | None:
        """Write the status when it changed; the run as written (None: unchanged)."""
        old = run.get("status") or {}
        new = self.sealer.seal(run, new)  # every status this controller writes
        if old == new:
            return None
        meta = run["metadata"]
        key = Key(run["kind"], meta["namespace"], meta["name"])
        written = self.kube.replace_status(RUNS, meta["namespace"], meta["name"],
                                           {**run, "status": new})
        self.written[key] = written["metadata"]["resourceVersion"]
        self.pacer.wrote(key, new)
        # Events from what the controller wrote before, not what someone put there.
        before = old if self.sealer.trusts_status(run) else untrusted_view(old)
        for event in events_for(before, new):
            self.recorder.record(written, event)
        if old.get("phase") != new.get("phase") or old.get("progress") != new.get("progress"):
            log.info("run status", extra={"run": f"{key.namespace}/{key.name}",
                                          "phase": new.get("phase"),
                                          "progress": new.get("progress")})
        return written
