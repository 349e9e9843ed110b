"""Phases, reasons and condition types: the words of the contract's §2, §3 and §5.

Why one module: they are read by people (`kubectl get`), by scripts (`kubectl
wait --for=condition=Succeeded`) and by the other half of this project, so each
word is typed once, here, and imported by the semantics, the mirror, the
reconciler, the events and the CLI (as Tekton keeps its reasons as typed
constants in its API package). Argo's own words are in `orchapi.argo`.
"""

from __future__ import annotations

import enum


class StepPhase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"


class StepReason(enum.StrEnum):
    DEPENDENCY_FAILED = "DependencyFailed"
    STEP_FAILED = "StepFailed"
    STEP_TIMED_OUT = "StepTimedOut"
    FAILURE_IGNORED = "FailureIgnored"
    STEP_ERROR = "StepError"
    WORKFLOW_ENDED = "WorkflowEnded"
    CANCELLED = "Cancelled"  # the run was cancelled (spec.cancel) before the step ended
    # The run passed its deadline (spec.policies.timeouts.totalSeconds) before the step
    # ended: it was stopped, or never started (contract §4).
    RUN_TIMED_OUT = "RunTimedOut"
    REUSED = "Reused"  # a resumed run took the step's result from the run it resumes
    # Argo skipped the step (a `when` that was false); the status shows Argo's own
    # message in its place (contract §5). The compiler emits no `when`.
    SKIPPED_BY_ARGO = "SkippedByArgo"
    # The run was refused before its Workflow was submitted (its `Submitted=False`
    # condition says why): the run has ended, and no step ever will start.
    NOT_SUBMITTED = "NotSubmitted"


class RunPhase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


RUN_DONE = frozenset({RunPhase.SUCCEEDED, RunPhase.FAILED, RunPhase.CANCELLED})


class OrchestrationPhase(enum.StrEnum):
    READY = "Ready"
    INVALID = "Invalid"


class ConditionType(enum.StrEnum):
    READY = "Ready"  # Orchestration
    SUBMITTED = "Submitted"  # run
    SUCCEEDED = "Succeeded"  # run
    NODE_STATUS_AVAILABLE = "NodeStatusAvailable"  # run
    ARGO_PHASE_AGREES = "ArgoPhaseAgrees"  # run (contract §3, argo-workflows#13498)
    ARGO_DEFAULTS_PINNED = "ArgoDefaultsPinned"  # run (contract §4, compiler.argo_defaults)


class ConditionStatus(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class RunReason(enum.StrEnum):
    """Reasons of the run's `Succeeded` condition (contract §5)."""

    RUNNING = "Running"
    ALL_STEPS_SUCCEEDED = "AllStepsSucceeded"
    FAILURES_IGNORED = "FailuresIgnored"
    STEPS_FAILED = "StepsFailed"
    WORKFLOW_ENDED = "WorkflowEnded"
    CANCELLED = "Cancelled"
    RUN_TIMED_OUT = "RunTimedOut"  # spec.policies.timeouts.totalSeconds passed (§4)


class SubmitReason(enum.StrEnum):
    """Reasons of the run's `Submitted` condition that are not a compiler
    diagnostic's (`OrchestrationNotFound`, `WorkflowTooLarge`, ... are `Reason`s)."""

    WORKFLOW_CREATED = "WorkflowCreated"
    WORKFLOW_NOT_OWNED = "WorkflowNotOwned"
    WORKFLOW_DELETED = "WorkflowDeleted"
    ORCHESTRATION_INVALID = "OrchestrationInvalid"
    # The apiserver refused the create (quota, RBAC, admission): retried with backoff.
    WORKFLOW_CREATE_FAILED = "WorkflowCreateFailed"
    # spec.resumeFrom names a run that cannot be resumed (compiler.resume): terminal.
    RESUME_REFUSED = "ResumeRefused"
    # spec.cancel before the Workflow was submitted: nothing is (contract §3).
    CANCELLED = "Cancelled"
    # What an install allows (contract §6), decided at submission; terminal.
    SUB_ORCHESTRATION_TOO_DEEP = "SubOrchestrationTooDeep"
    # Its child runs do not fit its share of its root run's maxDescendants.
    TOO_MANY_DESCENDANTS = "TooManyDescendants"
    STEP_KIND_NOT_ALLOWED = "StepKindNotAllowed"
    TOOL_INVALID = "ToolInvalid"  # a ToolRun step's Tool, read from the cluster
    # The apiserver refused to let the controller read what the run names (403):
    # terminal, never retried (contract §6).
    REFERENCE_FORBIDDEN = "ReferenceForbidden"
    # Another run of the Orchestration holds the run's spec.deliveryId (contract §5):
    # terminal once that one was submitted or ended; until then the run waits.
    DUPLICATE_DELIVERY = "DuplicateDelivery"
    # The namespace has as many active runs as the install allows
    # (maxActiveRunsPerNamespace, contract §6): the run waits for one to end.
    ACTIVE_RUN_LIMIT = "ActiveRunLimit"


class NodeStatusReason(enum.StrEnum):
    NODE_STATUS_OFFLOADED = "NodeStatusOffloaded"
    # compressedNodes corrupt, or larger than the controller decodes (issue 22)
    NODE_STATUS_UNREADABLE = "NodeStatusUnreadable"
    NODE_STATUS_IN_WORKFLOW = "NodeStatusInWorkflow"  # readable again after an offload


class ArgoDefaultsReason(enum.StrEnum):
    """Reasons of the run's `ArgoDefaultsPinned` condition, set when the cluster's
    Argo has workflowDefaults."""

    DEFAULTS_PINNED = "DefaultsPinned"
    DEFAULTS_APPLY = "DefaultsApply"


class ArgoPhaseReason(enum.StrEnum):
    """Reasons of the run's `ArgoPhaseAgrees` condition, set once the Workflow ended."""

    SAME_PHASE = "SamePhase"
    ARGO_PHASE_DIFFERS = "ArgoPhaseDiffers"


VALID = "Valid"  # reason of an Orchestration's Ready=True


class Reason(enum.StrEnum):
    """The contract's reason strings (semantics.md §2). The first seven are the
    reference controller's own and must not change."""

    MISSING_STEPS = "MissingSteps"
    STEP_MISSING_NAME = "StepMissingName"
    STEP_MISSING_KIND = "StepMissingKind"
    DUPLICATE_STEP = "DuplicateStep"
    MISSING_DEPENDENCY = "MissingDependency"
    INVALID_DEPENDENCY = "InvalidDependency"
    DEPENDENCY_CYCLE = "DependencyCycle"
    ENTRYPOINT_MISSING = "EntrypointMissing"
    INVALID_STEP_NAME = "InvalidStepName"
    UNSUPPORTED_STEP_KIND = "UnsupportedStepKind"
    MISSING_STEP_FIELD = "MissingStepField"
    INVALID_FIELD = "InvalidField"
    # A key the step's kind does not read (`image` on a ToolRun): a warning, an
    # error under --strict (contract §2).
    IGNORED_FIELD = "IgnoredField"
    INVALID_YAML = "InvalidYAML"
    UNSUPPORTED_DOCUMENT_KIND = "UnsupportedDocumentKind"
    TOO_MANY_STEPS = "TooManySteps"
    WORKFLOW_TOO_LARGE = "WorkflowTooLarge"
    ORCHESTRATION_NOT_FOUND = "OrchestrationNotFound"
    TOOL_NOT_FOUND = "ToolNotFound"
    SUB_ORCHESTRATION_CYCLE = "SubOrchestrationCycle"
    # A run whose Orchestration is in the input but invalid: the word the
    # controller's Submitted=False condition uses for the same case.
    ORCHESTRATION_INVALID = SubmitReason.ORCHESTRATION_INVALID.value
    # Two Orchestrations, or two runs, of one namespace and name in the input
    # (kubectl apply would silently keep the last; the contract is silent).
    DUPLICATE_RESOURCE = "DuplicateResource"
