"""One step's Argo node -> what contract §3 knows of the step (an `Observation`),
read from structure.

Why its own module: this is where Argo's node model meets the contract's words,
and where reading Argo's free text would go wrong (a node's message carries the
container's termination message and the kubelet's words, which users control). So
a failed node is classified by what the Workflow itself records:

- ended early: the Workflow's `spec.shutdown` (any value shuts it down: Argo's
  `ShutdownStrategy.Enabled`), or its `activeDeadlineSeconds` counted from
  `status.startedAt` truncated to the second (operator.go getWorkflowDeadline,
  v4.0.5 l.610, v3.6.18 l.604) and passed when the Workflow finished (or now);
- a Retry node by its last attempt: the last child flagged `nodeFlag.retried`, as
  Argo counts attempts (operator.go getChildNodeIdsRetried, v4.0.5 l.4564);
- a timeout only for a step whose template has a `timeout` and whose node Argo
  marked `Failed` (an `Error` is always a `StepError`, as Argo's continueOn.failed
  does not cover it), or for an ApprovalGate or SignalWait (a suspend node whose
  `wait` input has a timeoutSeconds) that the controller failed with its own fixed
  timeout message;
- a waiting ApprovalGate or SignalWait (its suspend node `Running`) says what it
  waits for, from its `wait` input.

Only then, to tell which of the possible causes it was, one of Argo's fixed
messages (`controller.argo_messages`) is compared, never searched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from compiler.kinds.wait import wait_of_node
from controller import argo_messages
from orchapi.api import DEADLINE_ANNOTATION, Obj, parse_time
from orchapi.argo import ARGO_DONE, ArgoNodeType, ArgoPhase
from orchapi.semantics import Observation, Seen

# Argo gives a pod what is left of the Workflow's deadline as its
# activeDeadlineSeconds, truncated to whole seconds (workflowpod.go, v4.0.5 l.180),
# so the kubelet may end it up to a second before the deadline itself.
POD_DEADLINE_ROUNDING = timedelta(seconds=1)


@dataclass(frozen=True)
class Ending:
    """Whether, and how, the Workflow is being ended early (read from its spec and
    status, never from a message)."""

    shutdown: str | None = None  # spec.shutdown: Stop or Terminate
    deadline: datetime | None = None  # startedAt (whole seconds) + activeDeadlineSeconds
    past_deadline: bool = False  # it finished (or it is now) at or after the deadline
    # The deadline is the run's own (spec.policies.timeouts.totalSeconds): the compiler
    # wrote it as activeDeadlineSeconds and as an annotation, and both still agree.
    runs_deadline: bool = False

    @classmethod
    def of(cls, workflow: Mapping[str, Any], now: str) -> Ending:
        spec, status = workflow.get("spec") or {}, workflow.get("status") or {}
        deadline = None
        started, seconds = parse_time(status.get("startedAt")), spec.get("activeDeadlineSeconds")
        if started is not None and isinstance(seconds, int):
            deadline = started.replace(microsecond=0) + timedelta(seconds=seconds)
        done = status.get("phase") in ARGO_DONE
        until = (done and parse_time(status.get("finishedAt"))) or parse_time(now)
        past = deadline is not None and until is not None and until >= deadline
        annotations = (workflow.get("metadata") or {}).get("annotations") or {}
        own = isinstance(seconds, int) and annotations.get(DEADLINE_ANNOTATION) == str(seconds)
        return cls(str(spec["shutdown"]) if spec.get("shutdown") else None, deadline, past,
                   own)

    @property
    def timed_out(self) -> bool:
        """The run's own deadline ended it (contract §4 `RunTimedOut`), not a stop."""
        return self.past_deadline and self.runs_deadline and self.shutdown is None

    @property
    def early(self) -> bool:
        return self.shutdown is not None or self.past_deadline

    def describe(self) -> str | None:
        """Why the Workflow ended early, for the run's condition message."""
        if self.shutdown is not None:
            return f"the Workflow was shut down (spec.shutdown: {self.shutdown})"
        if self.past_deadline and self.deadline is not None:
            when = self.deadline.strftime('%Y-%m-%dT%H:%M:%SZ')
            if self.runs_deadline:
                return f"the run passed its deadline, spec.policies.timeouts.totalSeconds ({when})"
            return f"the Workflow passed its activeDeadlineSeconds ({when})"
        return None

    def interrupted(self, step: Mapping[str, Any], last: Mapping[str, Any]) -> bool:
        """The failed node `step` (whose last attempt is `last`) was failed by Argo
        ending the Workflow, not by the step itself."""
        messages = (step.get("message"), last.get("message"))
        if self.shutdown is not None and argo_messages.says_shut_down(messages):
            return True
        if not self.past_deadline or self.deadline is None:
            return False
        if argo_messages.says_past_workflow_deadline(messages):
            return True
        finished = parse_time(step.get("finishedAt"))
        return finished is not None and finished >= self.deadline - POD_DEADLINE_ROUNDING


def last_attempt(node: Mapping[str, Any], nodes: Mapping[str, Obj]) -> Mapping[str, Any]:
    """A Retry node's last attempt (the node itself for any other node, or when the
    attempts are not in the map)."""
    if node.get("type") != ArgoNodeType.RETRY:
        return node
    children = [nodes[c] for c in node.get("children") or () if c in nodes]
    flagged = [c for c in children if (c.get("nodeFlag") or {}).get("retried")]
    attempts = flagged or children
    return attempts[-1] if attempts else node


def observe(node: Mapping[str, Any], nodes: Mapping[str, Obj], ending: Ending,
            has_timeout: bool) -> Observation:
    """One step's node -> what §3 knows of the step."""
    phase, message = node.get("phase"), node.get("message") or None
    # A wait is its suspend node, or the last attempt of the Retry node a default
    # retryStrategy (pinned to no retries, compiler.argo_defaults) put around it.
    inner = last_attempt(node, nodes)
    wait = wait_of_node(inner) if inner.get("type") == ArgoNodeType.SUSPEND else None
    if phase == ArgoPhase.RUNNING:
        return Observation(Seen.RUNNING, wait.waiting_message if wait else message)
    if phase == ArgoPhase.SUCCEEDED:
        return Observation(Seen.SUCCEEDED, message)
    if phase == ArgoPhase.SKIPPED:
        return Observation(Seen.SKIPPED, message)
    if phase in (ArgoPhase.FAILED, ArgoPhase.ERROR):
        last = last_attempt(node, nodes)
        note = _note(node, last)
        if ending.early and ending.interrupted(node, last):
            return Observation(Seen.INTERRUPTED, note)
        if phase == ArgoPhase.ERROR:  # never covered by continueOn.failed (§3)
            return Observation(Seen.ERRORED, note)
        if has_timeout and argo_messages.says_template_timed_out(last.get("message")):
            return Observation(Seen.TIMED_OUT, note)
        if wait is not None and wait.timeout_seconds \
                and argo_messages.says_wait_timed_out(message):
            return Observation(Seen.TIMED_OUT, note)
        return Observation(Seen.FAILED, note)
    # Pending: nothing ran yet (a pod Argo recreates after it failed before its main
    # container started is Pending again: Argo's message says so). Omitted: Argo will
    # never run it (§3 derives why).
    restarting = phase == ArgoPhase.PENDING and node.get("failedPodRestarts")
    return Observation(Seen.NOT_STARTED, message if restarting else None)


def _note(node: Mapping[str, Any], last: Mapping[str, Any]) -> str | None:
    """The node's message; for a Retry node, also its last attempt's."""
    own, inner = node.get("message") or None, last.get("message") or None
    if last is node or not inner or inner == own:
        return own
    return f"{own}; last attempt: {inner}" if own else inner

