"""The names this project shares with the cluster: API group and versions, the
kinds it reads and writes, and the labels and annotations it puts on objects.

Why one module: these strings are a wire contract (the CRDs, the chart's RBAC,
the labels a person selects on); a second copy drifts. Everything else imports
them from here: the compiler, the controller and the terminal commands alike.
The resources (`RUNS`, `WORKFLOWS`, ...) are the REST names of each kind, one
table for the controller's client and the terminal's.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from orchapi.argo import ARGO_GROUP, ARGO_VERSION, WORKFLOW_KIND
from orchapi.names import DNS_SUBDOMAIN_NAME, NAMESPACE, Grammar, quote

if TYPE_CHECKING:  # imported where a time is read: the compiler reads none
    from datetime import datetime

# A Kubernetes object, or a part of one, as the apiserver sends it: plain JSON data.
Obj = dict[str, Any]

GROUP: Final = "orchestration.proompteng.ai"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
ORCHESTRATION_KIND: Final = "Orchestration"
RUN_KIND: Final = "OrchestrationRun"

# The most steps one Orchestration may have, by default (contract §8: the chart's
# orchestrationController.maxSteps, `orch --max-steps`); the CRDs are generated
# with it (compiler.crd). More than 200 are split into several DAGs and Workflows.
MAX_STEPS: Final = 10_000
# The most a Kubernetes int32 field holds (the CRDs' `format: int32`).
INT32_MAX: Final = 2**31 - 1

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
# On each Workflow of a split run while the run is active (docs/scale.md): Argo's TTL
# may delete an ended Workflow of a run still running, and with it the only record of
# its succeeded steps; the controller removes it once the run has ended or is gone.
RUN_ACTIVE_FINALIZER: Final = f"{GROUP}/run-active"
# On a child OrchestrationRun (written by the SubOrchestration step's resource
# template): how deep in a chain of SubOrchestration runs it stands, 1 for the
# child of a run a person created; a run without it is at depth 0.
DEPTH_ANNOTATION: Final = f"{GROUP}/depth"
# ... and how many runs it may have below it, all depths: its share of its root
# run's `maxDescendants` (controller.admission); a run without it is a root.
DESCENDANTS_ANNOTATION: Final = f"{GROUP}/descendants"

# The reference system's resources that steps create or wait on.
AGENTS_API_VERSION: Final = "agents.proompteng.ai/v1alpha1"
AGENT_RUN_KIND: Final = "AgentRun"
TOOLS_API_VERSION: Final = "tools.proompteng.ai/v1alpha1"
TOOL_KIND: Final = "Tool"
APPROVALS_API_VERSION: Final = "approvals.proompteng.ai/v1alpha1"
APPROVAL_POLICY_KIND: Final = "ApprovalPolicy"
SIGNALS_API_VERSION: Final = "signals.proompteng.ai/v1alpha1"
SIGNAL_DELIVERY_KIND: Final = "SignalDelivery"
# Step kinds (contract §4) more than the kind's own module names: the ones that
# create an object (what `orch get` lists, what a cancel stops, what is budgeted)...
AGENT_RUN: Final = "AgentRun"
TOOL_RUN: Final = "ToolRun"
SUB_ORCHESTRATION: Final = "SubOrchestration"
# ... and those that wait in a suspend node (no pod): their message says on what.
APPROVAL_GATE: Final = "ApprovalGate"
SIGNAL_WAIT: Final = "SignalWait"
WAIT_KINDS: Final = (APPROVAL_GATE, SIGNAL_WAIT)


class InvalidNameError(ValueError):
    """A name no object can have, refused before any request (contract §6): in a
    URL path `.` is the list of the namespace and `a/b` a subresource of `a`."""


@dataclass(frozen=True)
class Resource:
    """A kind as the apiserver serves it."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None, name: str | None = None) -> str:
        """The URL path of the list (of a namespace, or of all) or of one object;
        a namespace or name no object can have raises `InvalidNameError`, so it is
        never sent."""
        _check_name("namespace", namespace, NAMESPACE)
        _check_name(f"{self.kind} name", name, DNS_SUBDOMAIN_NAME)
        out = f"/apis/{self.api_version}" if self.group else f"/api/{self.version}"
        if namespace is not None:
            out += f"/namespaces/{_quote_part(namespace)}"
        out += f"/{self.plural}"
        if name is not None:
            out += f"/{_quote_part(name)}"
        return out


def _check_name(what: str, value: str | None, grammar: Grammar) -> None:
    problem = grammar.problem(value) if value is not None else None
    if value is not None and problem is not None:
        raise InvalidNameError(f"{what} {quote(value)} {problem}")


def _quote_part(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _foreign(api_version: str, plural: str, kind: str) -> Resource:
    group, version = api_version.split("/")
    return Resource(group, version, plural, kind)


ORCHESTRATIONS = Resource(GROUP, VERSION, "orchestrations", ORCHESTRATION_KIND)
RUNS = Resource(GROUP, VERSION, "orchestrationruns", RUN_KIND)
WORKFLOWS = Resource(ARGO_GROUP, ARGO_VERSION, "workflows", WORKFLOW_KIND)
# The reference system's resources the step kinds create or read (issue 11).
AGENT_RUNS = _foreign(AGENTS_API_VERSION, "agentruns", AGENT_RUN_KIND)
TOOLS = _foreign(TOOLS_API_VERSION, "tools", TOOL_KIND)
APPROVAL_POLICIES = _foreign(APPROVALS_API_VERSION, "approvalpolicies", APPROVAL_POLICY_KIND)
SIGNAL_DELIVERIES = _foreign(SIGNALS_API_VERSION, "signaldeliveries", SIGNAL_DELIVERY_KIND)


def whole_number(value: object) -> int | None:
    """An annotation's whole number as orch writes it (ASCII digits, at most 9 of
    them), or None."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() \
            or len(value) > 9:
        return None
    return int(value)


def depth_of(annotations: Mapping[str, Any] | None) -> int | None:
    """A run's depth in a chain of SubOrchestration runs (`DEPTH_ANNOTATION`): 0 for
    a run a person created (it has none); None when it is not a whole number."""
    value = (annotations or {}).get(DEPTH_ANNOTATION)
    return 0 if value is None else whole_number(value)


def delivery_selector(orchestration: str, delivery: str) -> str:
    """The field selector of the runs of `orchestration` holding `delivery` (the
    run CRD declares both fields selectable: compiler.crd), each value escaped as
    `fields.EscapeValue` does."""
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
    return f"spec.orchestrationRef.name={escape(orchestration)},spec.deliveryId={escape(delivery)}"


def parse_time(value: Any) -> datetime | None:
    """A time as the apiserver and Argo write it (RFC 3339, `...Z`), or None."""
    from datetime import datetime

    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
