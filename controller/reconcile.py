"""Level-based reconciliation of Orchestrations and OrchestrationRuns.

Why level-based: a reconcile reads the current state (the caches, and the
apiserver where a stale cache could cause harm) and ignores which event woke it,
so a missed or duplicated event cannot change the outcome. Three rules keep a run
from ever being submitted twice: the Workflow's name is derived from the run
(never `generateName`), the run is re-read from the apiserver before creating
(a stale cache must not hide an earlier submission), and a Workflow that was
created once is never re-created (a deleted one ends the run).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from compiler.api import GENERATION_ANNOTATION, STEP_KINDS_ANNOTATION
from compiler.diagnostics import Reason
from compiler.emit import workflow_name
from compiler.pods import DEFAULT_PODS, PodSettings
from compiler.render import condition_message
from compiler.semantics import Condition
from compiler.vocabulary import (
    RUN_DONE,
    ConditionStatus,
    ConditionType,
    RunPhase,
    SubmitReason,
)
from controller import conditions as conds
from controller.events import Recorder, events_for
from controller.kube import (
    ORCHESTRATIONS,
    RUNS,
    WORKFLOWS,
    AlreadyExistsError,
    ConflictError,
    Kube,
    Obj,
)
from controller.mapping import ORCHESTRATION, Key, controller_owner
from controller.mirror import Mirror, mirror_deleted, mirror_workflow
from controller.orchestrations import reconcile_orchestration
from controller.validation import check_orchestration_object, compile_run

log = logging.getLogger("orch.reconcile")
NOT_OWNED_RECHECK = 30.0
CONFLICT_ATTEMPTS = 4
JUDGED_CACHE = 256

Lookup = Callable[[str, str], Obj | None]


@dataclass(frozen=True)
class Result:
    requeue_after: float | None = None


@dataclass
class Caches:
    orchestration: Lookup
    run: Lookup
    workflow: Lookup


class Reconciler:
    def __init__(self, kube: Kube, caches: Caches, recorder: Recorder,
                 service_account: str | None = None, pods: PodSettings = DEFAULT_PODS) -> None:
        self.kube, self.caches, self.recorder = kube, caches, recorder
        self.service_account, self.pods = service_account, pods
        self.written: dict[Key, str] = {}  # key -> resourceVersion of our last write
        self._judged: dict[tuple[str, int], tuple[list[Any], Any]] = {}

    def reconcile(self, key: Key) -> Result:
        if key.kind == ORCHESTRATION:
            rv = reconcile_orchestration(self.kube, self.caches.orchestration, key)
            if rv:
                self.written[key] = rv
            return Result()
        return self.reconcile_run(key)

    # -- OrchestrationRun --------------------------------------------------------------
    def reconcile_run(self, key: Key) -> Result:
        run = self.caches.run(key.namespace, key.name)
        if run is None:
            self._collect_orphan(key)
            self.written.pop(key, None)
            return Result()
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                return self._reconcile_run(run)
            except ConflictError:
                log.info("status conflict; re-reading", extra={"key": str(key),
                                                               "attempt": attempt + 1})
                live = self.kube.get(RUNS, key.namespace, key.name)
                if live is None:
                    return Result()
                run = live
        raise ConflictError(409, "Conflict", f"{key}: status kept changing under us")

    def _reconcile_run(self, run: Obj) -> Result:
        meta, status = run["metadata"], run.get("status") or {}
        ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
        wf_name = workflow_name(name)
        wf = self.caches.workflow(ns, wf_name)
        if wf is None and status.get("workflowRef"):
            wf = self.kube.get(WORKFLOWS, ns, wf_name)  # cache lag vs. really deleted
        if wf is not None:
            owner = controller_owner(wf)
            if owner is not None and owner.get("uid") == uid:
                return self._mirror(run, mirror_workflow(wf, status, conds.now_rfc3339()), wf)
            if owner is not None and self._owner_gone(ns, owner):
                # The run was re-created under this name: its predecessor's Workflow
                # goes first, in the foreground, so the new one never meets the old
                # pods (Argo derives pod names from the Workflow name).
                self._delete_orphan(wf, "Foreground")
                return Result(requeue_after=1.0)
            if status.get("workflowRef"):
                return self._ended(run)  # ours was deleted; this one is someone else's
            return self._not_owned(run, wf)
        if status.get("workflowRef"):
            return self._ended(run)
        if status.get("phase") in RUN_DONE:
            return Result()  # failed before submission: terminal
        return self._submit(run)

    def _submit(self, cached: Obj) -> Result:
        meta = cached["metadata"]
        ns, name = meta["namespace"], meta["name"]
        run = self.kube.get(RUNS, ns, name)  # the truth, not the cache, before creating
        if run is None or run["metadata"]["uid"] != meta["uid"]:
            return Result()
        status = run.get("status") or {}
        if status.get("workflowRef") or status.get("phase") in RUN_DONE:
            return self._reconcile_run(run)
        ref = ((run.get("spec") or {}).get("orchestrationRef") or {}).get("name") or ""
        orch = self.caches.orchestration(ns, ref) or self.kube.get(ORCHESTRATIONS, ns, ref)
        if orch is None:
            return self._refuse(run, str(Reason.ORCHESTRATION_NOT_FOUND),
                                f'Orchestration "{ref}" not found in namespace "{ns}"')
        problems, model = self._judge(orch)
        if model is None:
            return self._refuse(run, SubmitReason.ORCHESTRATION_INVALID,
                                f'Orchestration "{ref}" is invalid: '
                                + condition_message(problems))
        problems, compiled = compile_run(model, run, self.service_account, self.pods)
        if compiled is None:
            reason = (str(Reason.WORKFLOW_TOO_LARGE)
                      if any(p.reason is Reason.WORKFLOW_TOO_LARGE for p in problems)
                      else str(problems[0].reason))
            return self._refuse(run, reason, condition_message(problems))
        body = compiled.workflow
        body["metadata"]["ownerReferences"] = [{
            "apiVersion": run["apiVersion"], "kind": run["kind"], "name": name,
            "uid": meta["uid"], "controller": True}]
        body["metadata"]["annotations"] = {
            STEP_KINDS_ANNOTATION: json.dumps({n.name: n.kind for n in compiled.graph.nodes},
                                              separators=(",", ":")),
            GENERATION_ANNOTATION: str(orch["metadata"].get("generation") or 0),
        }
        try:
            wf = self.kube.create(WORKFLOWS, ns, body)
            log.info("workflow created", extra={"run": f"{ns}/{name}",
                                                "workflow": body["metadata"]["name"]})
        except AlreadyExistsError:
            live = self.kube.get(WORKFLOWS, ns, body["metadata"]["name"])
            if live is None:
                return Result(requeue_after=0.5)
            owner = controller_owner(live)
            if owner is None or owner.get("uid") != meta["uid"]:
                return self._not_owned(run, live)
            wf = live  # ours, from an earlier attempt whose status write was lost: adopt
        status = {**status, "startedAt": status.get("startedAt") or conds.now_rfc3339()}
        run = {**run, "status": status}
        return self._mirror(run, mirror_workflow(wf, status, conds.now_rfc3339()), wf)

    def _judge(self, orch: Obj) -> tuple[list[Any], Any]:
        """Validation of one Orchestration generation, computed once for all its runs
        (200 runs submitted at once validate it once, not 200 times)."""
        meta = orch["metadata"]
        key = (str(meta.get("uid")), int(meta.get("generation") or 0))
        found = self._judged.get(key)
        if found is None:
            found = check_orchestration_object(orch)
            if len(self._judged) >= JUDGED_CACHE:
                self._judged.pop(next(iter(self._judged)))
            self._judged[key] = found
        return found

    # -- status -------------------------------------------------------------------------
    def _mirror(self, run: Obj, mirror: Mirror, wf: Mapping[str, Any] | None) -> Result:
        old = run.get("status") or {}
        now = conds.now_rfc3339()
        gen = run["metadata"].get("generation")
        new: Obj = {"observedGeneration": gen}
        if wf is not None:
            meta = wf["metadata"]
            annotations = meta.get("annotations") or {}
            if GENERATION_ANNOTATION in annotations:
                new["orchestrationGeneration"] = int(annotations[GENERATION_ANNOTATION])
            new["workflowRef"] = {"name": meta["name"], "namespace": meta["namespace"],
                                  "uid": meta["uid"]}
        else:
            for k in ("orchestrationGeneration", "workflowRef"):
                if k in old:
                    new[k] = old[k]
        new["phase"] = mirror.phase
        new["progress"] = mirror.progress
        for k, v in (("startedAt", mirror.started_at), ("finishedAt", mirror.finished_at)):
            if v:
                new[k] = v
        new["stepStatuses"] = mirror.step_statuses
        new["conditions"] = conds.set_conditions(old.get("conditions"), mirror.conditions,
                                                 gen, now)
        self._write(run, new)
        return Result()

    def _ended(self, run: Obj) -> Result:
        status = run.get("status") or {}
        if status.get("phase") in RUN_DONE:
            return Result()
        return self._mirror(run, mirror_deleted(status, conds.now_rfc3339()), None)

    def _refuse(self, run: Obj, reason: str, message: str) -> Result:
        """Nothing is submitted; the run fails with the reason (terminal)."""
        old = run.get("status") or {}
        gen = run["metadata"].get("generation")
        now = conds.now_rfc3339()
        new: Obj = {"observedGeneration": gen, "phase": str(RunPhase.FAILED),
                    "finishedAt": old.get("finishedAt") or now,
                    "conditions": conds.set_conditions(old.get("conditions"), (
                        Condition(ConditionType.SUBMITTED, ConditionStatus.FALSE, reason,
                                  message),
                        Condition(ConditionType.SUCCEEDED, ConditionStatus.FALSE, reason,
                                  "nothing was submitted")), gen, now)}
        self._write(run, new)
        return Result()

    def _not_owned(self, run: Obj, wf: Obj) -> Result:
        old = run.get("status") or {}
        gen = run["metadata"].get("generation")
        owner = controller_owner(wf)
        who = f"OrchestrationRun {owner.get('name')} (uid {owner.get('uid')})" if owner \
            else "no OrchestrationRun"
        message = (f'Workflow "{wf["metadata"]["name"]}" already exists and is owned by {who}, '
                   "not by this run; it is not adopted")
        new: Obj = {**{k: v for k, v in old.items() if k != "conditions"},
                    "observedGeneration": gen, "phase": str(RunPhase.PENDING),
                    "conditions": conds.set_conditions(old.get("conditions"), (
                        Condition(ConditionType.SUBMITTED, ConditionStatus.FALSE,
                                  SubmitReason.WORKFLOW_NOT_OWNED, message),),
                        gen, conds.now_rfc3339())}
        self._write(run, new)
        return Result(requeue_after=NOT_OWNED_RECHECK)

    def _write(self, run: Obj, new: Obj) -> None:
        old = run.get("status") or {}
        if old == new:
            return
        meta = run["metadata"]
        key = Key(run["kind"], meta["namespace"], meta["name"])
        written = self.kube.replace_status(RUNS, meta["namespace"], meta["name"],
                                           {**run, "status": new})
        self.written[key] = written["metadata"]["resourceVersion"]
        for event in events_for(old, new):
            self.recorder.record(written, event)
        if event_worthy(old, new):
            log.info("run status", extra={"run": f"{key.namespace}/{key.name}",
                                          "phase": new.get("phase"),
                                          "progress": new.get("progress")})

    # -- garbage ------------------------------------------------------------------------
    def _owner_gone(self, namespace: str, owner: Mapping[str, Any]) -> bool:
        live = self.kube.get(RUNS, namespace, str(owner.get("name")))
        return live is None or live["metadata"]["uid"] != owner.get("uid")

    def _collect_orphan(self, key: Key) -> None:
        """The run is gone: delete its Workflow, as the garbage collector would
        (for clusters without one, and to be prompt). Only a Workflow whose
        controlling owner is a run of that name that no longer exists."""
        wf = self.caches.workflow(key.namespace, workflow_name(key.name))
        owner = controller_owner(wf) if wf is not None else None
        if wf is None or owner is None or owner.get("name") != key.name:
            return
        if self._owner_gone(key.namespace, owner):
            self._delete_orphan(wf, "Background")  # works with no garbage collector too

    def _delete_orphan(self, cached: Obj, propagation: str) -> None:
        """Delete it only if, read live, it is still controlled by that run: the
        cache may predate the garbage collector orphaning it (`propagationPolicy:
        Orphan` strips the ownerReference before the run goes); the resourceVersion
        precondition makes the check and the delete one step."""
        meta = cached["metadata"]
        wf = self.kube.get(WORKFLOWS, meta["namespace"], meta["name"])
        owner = controller_owner(wf) if wf is not None else None
        old_owner = controller_owner(cached)
        if wf is None or owner is None or old_owner is None \
                or owner.get("uid") != old_owner.get("uid") \
                or wf["metadata"].get("deletionTimestamp"):
            return
        meta = wf["metadata"]
        if self.kube.delete(WORKFLOWS, meta["namespace"], meta["name"], uid=meta["uid"],
                            resource_version=meta["resourceVersion"],
                            propagation=propagation):
            log.info("deleted Workflow of a deleted run",
                     extra={"workflow": f"{meta['namespace']}/{meta['name']}"})


def event_worthy(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return old.get("phase") != new.get("phase") or old.get("progress") != new.get("progress")

