"""Kubernetes Events on a run, for what `kubectl describe` should tell a person:
the Workflow was created (or could not be), steps failed, the run finished.

Why separate: events are derived from the difference between the old and the new
status (pure: `events_for`), and recording them is best effort: a failure to
record is logged, never a reason to retry the reconcile. Steps that failed since
the last write make one Event that names at most `STEPS_NAMED` of them, so a
200-step run whose steps all fail records one Event, not 200.
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.conditions import find_condition, now_rfc3339
from controller.kube import Kube
from orchapi.vocabulary import (
    ConditionStatus,
    ConditionType,
    RunPhase,
    StepPhase,
    StepReason,
    SubmitReason,
)

log = logging.getLogger("orch.events")
COMPONENT = "orch-controller"
STEPS_NAMED = 5
MAX_MESSAGE = 1024


class EventReason(enum.StrEnum):
    """Reasons of the Kubernetes Events recorded on a run (besides the `Submitted`
    condition's reasons, which are recorded as they are)."""

    STEP_FAILED = "StepFailed"
    RUN_SUCCEEDED = "RunSucceeded"
    RUN_FAILED = "RunFailed"
    RUN_CANCELLED = "RunCancelled"


@dataclass(frozen=True)
class Event:
    type: str  # Normal or Warning
    reason: str
    message: str


def events_for(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Event]:
    """Events for the change from status `old` to `new` of one run."""
    out: list[Event] = []
    old_submitted = find_condition(old.get("conditions"), ConditionType.SUBMITTED) or {}
    submitted = find_condition(new.get("conditions"), ConditionType.SUBMITTED) or {}
    if submitted and (submitted.get("status"), submitted.get("reason")) != (
            old_submitted.get("status"), old_submitted.get("reason")):
        if submitted.get("status") == ConditionStatus.TRUE:
            ref = new.get("workflowRef") or {}
            parts = [w.get("name") for w in new.get("workflows") or ()]
            out.append(Event("Normal", SubmitReason.WORKFLOW_CREATED,
                             f"{len(parts)} Workflows {parts[0]} to {parts[-1]} submitted "
                             "(a split run)" if parts and not ref
                             else f"Workflow {ref.get('name')} submitted"))
        else:
            out.append(Event("Warning", str(submitted.get("reason")),
                             str(submitted.get("message"))))
    old_steps = {s.get("name"): s for s in old.get("stepStatuses") or ()}
    failed = [step for step in new.get("stepStatuses") or ()
              if step.get("phase") == StepPhase.FAILED
              and step.get("reason") != StepReason.CANCELLED  # stopped, not failed
              and (old_steps.get(step.get("name")) or {}).get("phase") != StepPhase.FAILED]
    if failed:
        out.append(Event("Warning", EventReason.STEP_FAILED, failed_steps_message(failed)))
    phase = new.get("phase")
    if phase != old.get("phase") and phase in (RunPhase.SUCCEEDED, RunPhase.FAILED):
        cond = find_condition(new.get("conditions"), ConditionType.SUCCEEDED) or {}
        reason = EventReason.RUN_SUCCEEDED if phase == RunPhase.SUCCEEDED \
            else EventReason.RUN_FAILED
        out.append(Event("Normal" if phase == RunPhase.SUCCEEDED else "Warning",
                         reason, str(cond.get("message") or phase)))
    elif phase != old.get("phase") and phase == RunPhase.CANCELLED:
        cond = find_condition(new.get("conditions"), ConditionType.SUCCEEDED) or {}
        out.append(Event("Normal", EventReason.RUN_CANCELLED, str(cond.get("message") or phase)))
    return out


def failed_steps_message(failed: list[Mapping[str, Any]]) -> str:
    """`step b: StepFailed: Error (exit code 1)`, or for several `3 steps failed:
    b (StepFailed), c (StepTimedOut), ... and 1 more`; at most `STEPS_NAMED` named."""
    if len(failed) == 1:
        step = failed[0]
        return f"step {step.get('name')}: {step.get('reason')}: {step.get('message')}"
    named = ", ".join(f"{s.get('name')} ({s.get('reason')})" for s in failed[:STEPS_NAMED])
    more = f" and {len(failed) - STEPS_NAMED} more" if len(failed) > STEPS_NAMED else ""
    return f"{len(failed)} steps failed: {named}{more}"


class Recorder:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def record(self, obj: Mapping[str, Any], event: Event) -> None:
        meta = obj.get("metadata") or {}
        now = now_rfc3339()
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name')}.{secrets.token_hex(8)}",
                         "namespace": meta.get("namespace")},
            "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                               "name": meta.get("name"), "namespace": meta.get("namespace"),
                               "uid": meta.get("uid"),
                               "resourceVersion": meta.get("resourceVersion")},
            "reason": event.reason, "message": event.message[:MAX_MESSAGE], "type": event.type,
            "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        }
        try:
            self.kube.create_event(str(meta.get("namespace")), body)
        except Exception as e:  # best effort: refused, timed out, no longer leader
            log.warning("could not record event", extra={"reason": event.reason,
                                                         "error": str(e)})
