"""Argo's names and words, as its source spells them (argo-workflows v4.0.5):
what orch writes into a Workflow and reads back from one.

Why here, beside ours: the compiler emits them, the controller and the terminal
commands read them, and a label typed in three places drifts. They are Argo's,
not the contract's, so they keep Argo's own names and say where they come from.
"""

from __future__ import annotations

import enum
from typing import Final

ARGO_GROUP: Final = "argoproj.io"
ARGO_VERSION: Final = "v1alpha1"
ARGO_API_VERSION: Final = f"{ARGO_GROUP}/{ARGO_VERSION}"
WORKFLOW_KIND: Final = "Workflow"

# Labels and annotations Argo puts on what it creates (workflow/common/common.go).
_PREFIX = "workflows.argoproj.io"
ARGO_WORKFLOW_LABEL: Final = f"{_PREFIX}/workflow"  # LabelKeyWorkflow: on pods and created objects
POD_NAME_FORMAT: Final = f"{_PREFIX}/pod-name-format"  # AnnotationKeyPodNameVersion
# LabelKeyActor, ...ActorEmail, ...ActorPreferredUsername, LabelKeyAction (l.78-81):
# who last set a node, as `argo node set` records it.
ACTOR_LABELS: Final = (f"{_PREFIX}/actor", f"{_PREFIX}/actor-email",
                       f"{_PREFIX}/actor-preferred-username", f"{_PREFIX}/action")

# "No deadline", written where a cluster's Argo defaults would otherwise set one
# (compiler.argo_defaults): the most a pod's activeDeadlineSeconds may be
# (Kubernetes ValidatePodSpec, 1..MaxInt32), which Argo derives from the Workflow's
# and the template's deadlines; 68 years.
UNBOUNDED_SECONDS: Final = 2**31 - 1
UNBOUNDED_TIMEOUT: Final = f"{UNBOUNDED_SECONDS}s"


class ArgoPhase(enum.StrEnum):
    """Argo's node and Workflow phases (`wfv1.NodePhase`, `WorkflowPhase`)."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"
    SKIPPED = "Skipped"
    OMITTED = "Omitted"


ARGO_DONE = frozenset({ArgoPhase.SUCCEEDED, ArgoPhase.FAILED, ArgoPhase.ERROR})


class ArgoShutdown(enum.StrEnum):
    """Argo's `spec.shutdown` values (ShutdownStrategy, workflow_types.go): the
    controller writes `Stop` to cancel a run, as `argo stop` does."""

    STOP = "Stop"
    TERMINATE = "Terminate"


class ArgoNodeType(enum.StrEnum):
    """Argo's node types (`wfv1.NodeType`) that the mirror reads."""

    POD = "Pod"
    DAG = "DAG"
    RETRY = "Retry"
    SUSPEND = "Suspend"
    SKIPPED = "Skipped"
