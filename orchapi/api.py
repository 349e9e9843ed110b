"""The names this project shares with the cluster: API group and versions, the
kinds it reads and writes, and the labels and annotations it puts on objects.

Why one module: these strings are a wire contract (the CRDs, the chart's RBAC,
the labels a person selects on); a second copy drifts. Everything else imports
them from here, the compiler and the controller alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

GROUP: Final = "orchestration.proompteng.ai"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
ORCHESTRATION_KIND: Final = "Orchestration"
RUN_KIND: Final = "OrchestrationRun"

# The most steps one Orchestration may have, by default (contract §8: the chart's
# orchestrationController.maxSteps, `orch --max-steps`); the CRDs are generated
# with it (compiler.crd). More than 200 are split into several DAGs and Workflows.
MAX_STEPS: Final = 10_000

# Labels on the Workflow and its pods (contract §4).
ORCHESTRATION_LABEL: Final = f"{GROUP}/orchestration"
RUN_LABEL: Final = f"{GROUP}/run"
STEP_LABEL: Final = f"{GROUP}/step"

# Annotations the compiler and the controller write.
STEP_KINDS_ANNOTATION: Final = f"{GROUP}/step-kinds"  # on a Workflow: step name -> kind
GENERATION_ANNOTATION: Final = f"{GROUP}/orchestration-generation"  # on a Workflow
RESUMED_FROM_ANNOTATION: Final = f"{GROUP}/resumed-from"  # on a resumed run's Workflow
# ... with the old run's records of the steps it reuses (JSON), the mirror's source.
REUSED_RECORDS_ANNOTATION: Final = f"{GROUP}/reused-records"
# On a Workflow: the run's deadline in seconds (spec.policies.timeouts.totalSeconds),
# which is its activeDeadlineSeconds: the mirror tells the run timing out by it.
DEADLINE_ANNOTATION: Final = f"{GROUP}/deadline-seconds"
GENERATED_BY_ANNOTATION: Final = f"{GROUP}/generated-by"  # on the generated CRDs
# On each Workflow of a run split into several (compiler.emit_run): `i/k`, and the
# declaration index of each of its step tasks, in reading order (JSON list).
PART_ANNOTATION: Final = f"{GROUP}/workflow-part"
STEP_INDEXES_ANNOTATION: Final = f"{GROUP}/step-indexes"
# On a child OrchestrationRun (written by the SubOrchestration step's resource
# template): how deep in a chain of SubOrchestration runs it stands, 1 for the
# child of a run a person created; a run without it is at depth 0.
DEPTH_ANNOTATION: Final = f"{GROUP}/depth"
# ... and how many runs it may have below it, all depths: its share of its root
# run's `maxDescendants` (controller.admission); a run without it is a root.
DESCENDANTS_ANNOTATION: Final = f"{GROUP}/descendants"

# Argo.
ARGO_API_VERSION: Final = "argoproj.io/v1alpha1"
# "No deadline", written where a cluster's Argo defaults would otherwise set one
# (compiler.argo_defaults): the most a pod's activeDeadlineSeconds may be
# (Kubernetes ValidatePodSpec, 1..MaxInt32), which Argo derives from the Workflow's
# and the template's deadlines; 68 years.
UNBOUNDED_SECONDS: Final = 2**31 - 1
UNBOUNDED_TIMEOUT: Final = f"{UNBOUNDED_SECONDS}s"
WORKFLOW_KIND: Final = "Workflow"

# The reference system's resources that steps create or wait on.
AGENTS_API_VERSION: Final = "agents.proompteng.ai/v1alpha1"
TOOLS_API_VERSION: Final = "tools.proompteng.ai/v1alpha1"
TOOL_KIND: Final = "Tool"
APPROVALS_API_VERSION: Final = "approvals.proompteng.ai/v1alpha1"
APPROVAL_POLICY_KIND: Final = "ApprovalPolicy"
SIGNALS_API_VERSION: Final = "signals.proompteng.ai/v1alpha1"
SIGNAL_DELIVERY_KIND: Final = "SignalDelivery"
# The step kinds that wait in a suspend node (no pod): their message says on what.
APPROVAL_GATE: Final = "ApprovalGate"
SIGNAL_WAIT: Final = "SignalWait"
WAIT_KINDS: Final = (APPROVAL_GATE, SIGNAL_WAIT)


def parse_time(value: Any) -> datetime | None:
    """A time as the apiserver and Argo write it (RFC 3339, `...Z`), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
