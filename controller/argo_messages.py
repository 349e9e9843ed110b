"""The only node messages the status mirror reads: fixed strings Argo's controller
(and, once, the kubelet) writes, each quoted from its source with file and version.

Why one module: a node's `message` also carries text other programs wrote (a
container's termination message lands in it, as do the kubelet's words), so the
mirror classifies from structure (the Workflow's `spec.shutdown`, its deadline, node
types, a Retry node's last attempt) and reads a message only where structure cannot
tell two outcomes apart: which failed nodes of a stopped Workflow Argo failed itself,
and whether a step with a template `timeout` failed because that timeout fired. Each
string is matched exactly or as a prefix Argo writes first, never searched for, and
only after the structure made it relevant (a prefix of the shutdown family means
nothing in a Workflow without `spec.shutdown`). A new Argo version is checked here.

Checked against argo-workflows v4.0.5 (the test cluster's; Go module cache) and
v3.6.18 (the newest v3.6 the module proxy serves); both write the same strings.
Paths are under `workflow/controller/` of `github.com/argoproj/argo-workflows`.
"""

from __future__ import annotations

from collections.abc import Iterable

# -- a Workflow shut down (`spec.shutdown` set by `argo stop` / `argo terminate`) ------
# operator.go processNodeRetries (v4.0.5 l.1017, v3.6.18 l.998), a Retry node ended in
# the shutdown, and failNodesWithoutCreatedPodsAfterDeadlineOrShutdown (v4.0.5 l.1348,
# v3.6.18 l.1320), a suspend node failed by it:
#     fmt.Sprintf("Stopped with strategy '%s'", woc.GetShutdownStrategy())
STOPPED_WITH_STRATEGY = "Stopped with strategy '"
# exec_control.go applyExecutionControl (v4.0.5 l.50, v3.6.18 l.49), a running or
# pending pod terminated (two spaces), and workflowpod.go createWorkflowPod (v4.0.5
# l.134, v3.6.18 l.128), a pod not created because of the shutdown (one space):
#     fmt.Sprintf("workflow shutdown with strategy:  %s", woc.GetShutdownStrategy())
#     fmt.Sprintf("workflow shutdown with strategy: %s", woc.GetShutdownStrategy())
WORKFLOW_SHUTDOWN = "workflow shutdown with strategy:"
SHUTDOWN_PREFIXES = (STOPPED_WITH_STRATEGY, WORKFLOW_SHUTDOWN)

# -- a Workflow past its `activeDeadlineSeconds` -----------------------------------------
# exec_control.go applyExecutionControl (v4.0.5 l.65, v3.6.18 l.64), a pod past the
# Workflow's deadline, and operator.go failNodesWithoutCreatedPodsAfterDeadlineOrShutdown
# (v4.0.5 l.1357, v3.6.18 l.1329), a pending or suspended node:
#     "Step exceeded its deadline"
STEP_EXCEEDED_DEADLINE = "Step exceeded its deadline"
# operator.go processNodeRetries (v4.0.5 l.1019, v3.6.18 l.1000), a Retry node:
#     fmt.Sprintf("retry exceeded workflow deadline %s", *woc.workflowDeadline)
RETRY_EXCEEDED_DEADLINE = "retry exceeded workflow deadline "

# -- a template `timeout` fired (only read for a step whose template has one) ------------
# operator.go: ErrTimeout = argoerrors.New(argoerrors.CodeTimeout, "timeout") (v4.0.5
# l.127, v3.6.18 l.125), written as the node's message by executeTemplate for a node
# still Pending past its timeout (v4.0.5 l.2194, v3.6.18 l.2052) and by dag.go
# executeDAGTask (v4.0.5 l.629, v3.6.18 l.610).
TEMPLATE_TIMEOUT = "timeout"
# Not read: with at most a second of the timeout left when the pod would be created,
# workflowpod.go createWorkflowPod (v4.0.5 l.605, v3.6.18 l.524) returns
# fmt.Errorf("%s exceeded its deadline", nodeName) and the node goes to Error, which
# Argo's continueOn.failed does not cover (its dependents are omitted): contract §3
# makes every Error a StepError, so it stays one. (A `timeout` under 3 s always ends
# this way: Argo truncates what is left to whole seconds, 2s -> 1 -> refused.)
# Argo applies a container's timeout as the pod's `activeDeadlineSeconds`
# (workflowpod.go, v4.0.5 l.602-608), which the kubelet enforces; its words, from
# kubernetes pkg/kubelet/active_deadline.go (v1.36.3 l.32), become the pod's
# `status.message`, which Argo copies whole into the node (operator.go
# inferFailedReason, "Pod has a nice error message. Use that.", v4.0.5 l.1711,
# v3.6.18 l.1649). Only the kubelet writes a pod's status.message; a container's own
# termination message can only follow "main: ..." in a node message, never be it.
KUBELET_ACTIVE_DEADLINE = "Pod was active on the node longer than the specified deadline"


def _any_starts(messages: Iterable[str | None], prefixes: tuple[str, ...]) -> bool:
    return any(m.startswith(prefixes) for m in messages if m)


def says_shut_down(messages: Iterable[str | None]) -> bool:
    """Argo failed the node because the Workflow is being shut down."""
    return _any_starts(messages, SHUTDOWN_PREFIXES)


def says_past_workflow_deadline(messages: Iterable[str | None]) -> bool:
    """Argo failed the node because the Workflow passed its deadline."""
    return any(m == STEP_EXCEEDED_DEADLINE for m in messages) or _any_starts(
        messages, (RETRY_EXCEEDED_DEADLINE,))


def says_template_timed_out(message: str | None) -> bool:
    """The node (an attempt) failed because its template's `timeout` passed."""
    return message in (TEMPLATE_TIMEOUT, KUBELET_ACTIVE_DEADLINE)
