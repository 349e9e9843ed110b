"""Typed models of the `orchestration.proompteng.ai/v1alpha1` resources.

They accept every object the reference CRDs accept: step keys the CRDs keep as
unknown fields (`implementationSpecRef`, `runtime`, `secrets`, ...) are kept as
extras, never dropped. Scalars are strict, as the apiserver is: `retries: "3"` or
`with: {n: 1}` are rejected, not coerced.

Each class is the record (`orchapi.records`) of its pydantic twin in
`orchapi.schema`, the schema the CRDs are generated from (`compiler.crd`) and the
judge of what a record cannot accept at a glance; a test holds them equal
(`tests/unit/orchapi/test_models_twin.py`). Why two: a cold `orch compile` of a
valid file never imports pydantic, which with the models' build was half its time.
"""

from __future__ import annotations

from typing import Any

from orchapi.api import INT32_MAX, MAX_STEPS
from orchapi.names import MAX_NAME_LENGTH as MAX_NAME_LENGTH
from orchapi.records import (
    REQUIRED,
    FieldSpec,
    Record,
    int_between,
    list_of,
    literal,
    optional,
    record,
    str_at_most,
    str_dict,
    strict_bool,
    strict_int,
    strict_str,
)

# A step's parameters: a bound the CRD states (compiler.crd).
MAX_PARAMETERS = 1000

# Marks a model whose unknown keys the CRD keeps (`compiler.crd` reads it).
PRESERVE_UNKNOWN_FIELDS: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}

# The run's spec fields a person may change after creation; every other field of
# `OrchestrationRunSpec`, present or future, is immutable (by its JSON name).
MUTABLE_RUN_SPEC_FIELDS = frozenset({"cancel"})

_STR = optional(strict_str)
_INT = optional(strict_int)
_INT32 = optional(int_between(0, INT32_MAX))
_STRINGS = optional(str_dict(strict_str))
_API_VERSION = literal("orchestration.proompteng.ai/v1alpha1")


def _twin(name: str) -> str:
    return f"orchapi.schema:{name}"


class NameRef(Record):
    """A reference to an object by name (`agentRef`, `toolRef`, ...)."""

    TWIN = _twin("NameRef")
    FIELDS = (FieldSpec("name", "name", strict_str, REQUIRED),)
    name: str


class TemplateRef(Record):
    """A WorkflowTemplate (or ClusterWorkflowTemplate) and one template in it."""

    TWIN = _twin("TemplateRef")
    FIELDS = (
        FieldSpec("name", "name", strict_str, REQUIRED),
        FieldSpec("template", "template", strict_str, REQUIRED),
        FieldSpec("cluster_scope", "clusterScope", strict_bool, False),
    )
    name: str
    template: str
    cluster_scope: bool


class EnvVar(Record):
    """A Container step's environment variable (`valueFrom` is checked against the
    Kubernetes schema by `compiler.kinds.container`)."""

    TWIN = _twin("EnvVar")
    FIELDS = (
        FieldSpec("name", "name", strict_str, REQUIRED),
        FieldSpec("value", "value", _STR),
        FieldSpec("value_from", "valueFrom", optional(str_dict())),
    )
    name: str
    value: str | None
    value_from: dict[str, Any] | None


_NAME_REF = optional(record(lambda: NameRef))


class Step(Record):
    """One step. Kind-specific fields are optional here and required per kind by
    `compiler.validate`, so one missing field is one diagnostic."""

    TWIN = _twin("Step")
    FIELDS = (
        FieldSpec("name", "name", str_at_most(MAX_NAME_LENGTH), REQUIRED),
        FieldSpec("kind", "kind", strict_str, REQUIRED),
        FieldSpec("depends_on", "dependsOn", optional(list_of(strict_str, MAX_STEPS))),
        FieldSpec("continue_on_failure", "continueOnFailure", strict_bool, False),
        FieldSpec("retries", "retries", _INT32),
        FieldSpec("retry_backoff_seconds", "retryBackoffSeconds", _INT32),
        FieldSpec("timeout_seconds", "timeoutSeconds", _INT32),
        FieldSpec("with_", "with", optional(str_dict(strict_str, MAX_PARAMETERS))),
        FieldSpec("agent_ref", "agentRef", _NAME_REF),
        FieldSpec("tool_ref", "toolRef", _NAME_REF),
        FieldSpec("orchestration_ref", "orchestrationRef", _NAME_REF),
        FieldSpec("policy_ref", "policyRef", _STR),
        FieldSpec("image", "image", _STR),
        FieldSpec("command", "command", optional(list_of(strict_str))),
        FieldSpec("args", "args", optional(list_of(strict_str))),
        FieldSpec("env", "env", optional(list_of(record(lambda: EnvVar)))),
        FieldSpec("template_ref", "templateRef", optional(record(lambda: TemplateRef))),
    )
    name: str
    kind: str
    depends_on: list[str] | None
    continue_on_failure: bool
    retries: int | None
    retry_backoff_seconds: int | None
    timeout_seconds: int | None
    with_: dict[str, str] | None
    agent_ref: NameRef | None
    tool_ref: NameRef | None
    orchestration_ref: NameRef | None
    policy_ref: str | None
    image: str | None
    command: list[str] | None
    args: list[str] | None
    env: list[EnvVar] | None
    template_ref: TemplateRef | None

    @property
    def extras(self) -> dict[str, Any]:
        """Keys the model does not name, as given (kept, never dropped)."""
        return dict(self._extra)

    @property
    def has_depends_on(self) -> bool:
        return self.depends_on is not None

    @property
    def parameters(self) -> dict[str, str]:
        return dict(self.with_ or {})


class ObjectMeta(Record):
    TWIN = _twin("ObjectMeta")
    FIELDS = (
        FieldSpec("name", "name", _STR),
        FieldSpec("generate_name", "generateName", _STR),
        FieldSpec("namespace", "namespace", _STR),
        FieldSpec("labels", "labels", _STRINGS),
        FieldSpec("annotations", "annotations", _STRINGS),
        FieldSpec("generation", "generation", _INT),
        FieldSpec("uid", "uid", _STR),
    )
    name: str | None
    generate_name: str | None
    namespace: str | None
    labels: dict[str, str] | None
    annotations: dict[str, str] | None
    generation: int | None
    uid: str | None


class OrchestrationSpec(Record):
    TWIN = _twin("OrchestrationSpec")
    FIELDS = (
        FieldSpec("entrypoint", "entrypoint", _STR),
        # at most maxSteps: compiler.validate, and the CRD's maxItems
        FieldSpec("steps", "steps", list_of(record(lambda: Step)), REQUIRED),
        FieldSpec("policies", "policies", optional(str_dict())),
    )
    entrypoint: str | None
    steps: list[Step]
    policies: dict[str, Any] | None


class Condition(Record):
    """A condition as stored (the CRD's schema, and parsing). The semantics compute
    `orchapi.semantics.DecidedCondition` (type, status, reason, message) and the
    controller stamps it into this shape (`controller.conditions.to_dict`): two
    classes for two jobs, one set of words (`orchapi.vocabulary`)."""

    TWIN = _twin("Condition")
    FIELDS = (
        FieldSpec("type", "type", strict_str, REQUIRED),
        FieldSpec("status", "status", literal("True", "False", "Unknown"), REQUIRED),
        FieldSpec("reason", "reason", _STR),
        FieldSpec("message", "message", _STR),
        FieldSpec("observed_generation", "observedGeneration", _INT),
        FieldSpec("last_transition_time", "lastTransitionTime", _STR),
    )
    type: str
    status: str
    reason: str | None
    message: str | None
    observed_generation: int | None
    last_transition_time: str | None


_CONDITIONS = optional(list_of(record(lambda: Condition)))


class OrchestrationStatus(Record):
    TWIN = _twin("OrchestrationStatus")
    FIELDS = (
        FieldSpec("observed_generation", "observedGeneration", _INT),
        FieldSpec("phase", "phase", _STR),
        FieldSpec("updated_at", "updatedAt", _STR),
        FieldSpec("conditions", "conditions", _CONDITIONS),
    )
    observed_generation: int | None
    phase: str | None
    updated_at: str | None
    conditions: list[Condition] | None


class Orchestration(Record):
    TWIN = _twin("Orchestration")
    FIELDS = (
        FieldSpec("api_version", "apiVersion", _API_VERSION, REQUIRED),
        FieldSpec("kind", "kind", literal("Orchestration"), REQUIRED),
        FieldSpec("metadata", "metadata", record(lambda: ObjectMeta), REQUIRED),
        FieldSpec("spec", "spec", record(lambda: OrchestrationSpec), REQUIRED),
        FieldSpec("status", "status", optional(record(lambda: OrchestrationStatus))),
    )
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: OrchestrationSpec
    status: OrchestrationStatus | None


class OrchestrationRef(Record):
    TWIN = _twin("OrchestrationRef")
    FIELDS = (FieldSpec("name", "name", strict_str, REQUIRED),)
    name: str


class ResumeFrom(Record):
    """The ended run (same namespace, same Orchestration generation) whose results a
    new run reuses (contract §3, `compiler.resume`)."""

    TWIN = _twin("ResumeFrom")
    FIELDS = (
        FieldSpec("name", "name", str_at_most(253), REQUIRED),
        FieldSpec("rerun", "rerun",
                  optional(list_of(str_at_most(MAX_NAME_LENGTH), MAX_STEPS))),
    )
    name: str
    rerun: list[str] | None


class OrchestrationRunSpec(Record):
    # Fixed once the run exists (a CEL rule per field, generated by `compiler.crd`),
    # except the fields in `MUTABLE_RUN_SPEC_FIELDS` (contract §5).
    TWIN = _twin("OrchestrationRunSpec")
    FIELDS = (
        FieldSpec("orchestration_ref", "orchestrationRef", record(lambda: OrchestrationRef),
                  REQUIRED),
        FieldSpec("parameters", "parameters", _STRINGS),
        FieldSpec("delivery_id", "deliveryId", _STR),
        FieldSpec("resume_from", "resumeFrom", optional(record(lambda: ResumeFrom))),
        FieldSpec("cancel", "cancel", optional(strict_bool)),
    )
    orchestration_ref: OrchestrationRef
    parameters: dict[str, str] | None
    delivery_id: str | None
    resume_from: ResumeFrom | None
    cancel: bool | None


class WorkflowRef(Record):
    TWIN = _twin("WorkflowRef")
    FIELDS = (
        FieldSpec("name", "name", strict_str, REQUIRED),
        FieldSpec("namespace", "namespace", _STR),
        FieldSpec("uid", "uid", _STR),
    )
    name: str
    namespace: str | None
    uid: str | None


class ResourceRef(Record):
    """The object a step created (AgentRun, ToolRun, child OrchestrationRun, ...)."""

    TWIN = _twin("ResourceRef")
    FIELDS = (
        FieldSpec("api_version", "apiVersion", _STR),
        FieldSpec("kind", "kind", _STR),
        FieldSpec("name", "name", _STR),
        FieldSpec("namespace", "namespace", _STR),
        FieldSpec("uid", "uid", _STR),
    )
    api_version: str | None
    kind: str | None
    name: str | None
    namespace: str | None
    uid: str | None


class StepStatus(Record):
    TWIN = _twin("StepStatus")
    FIELDS = (
        FieldSpec("name", "name", strict_str, REQUIRED),
        FieldSpec("kind", "kind", strict_str, REQUIRED),
        FieldSpec("phase", "phase", _STR),
        FieldSpec("reason", "reason", _STR),
        FieldSpec("message", "message", _STR),
        FieldSpec("started_at", "startedAt", _STR),
        FieldSpec("finished_at", "finishedAt", _STR),
        FieldSpec("attempt", "attempt", _INT),
        FieldSpec("failed_pod_restarts", "failedPodRestarts", _INT),
        FieldSpec("last_transition_time", "lastTransitionTime", _STR),
        FieldSpec("next_retry_at", "nextRetryAt", _STR),
        FieldSpec("resource_ref", "resourceRef", optional(record(lambda: ResourceRef))),
        FieldSpec("outputs", "outputs", optional(str_dict())),
    )
    name: str
    kind: str
    phase: str | None
    reason: str | None
    message: str | None
    started_at: str | None
    finished_at: str | None
    attempt: int | None
    failed_pod_restarts: int | None
    last_transition_time: str | None
    next_retry_at: str | None
    resource_ref: ResourceRef | None
    outputs: dict[str, Any] | None


class StepCount(Record):
    """How many of the run's steps are in one phase, for one reason."""

    TWIN = _twin("StepCount")
    FIELDS = (
        FieldSpec("phase", "phase", strict_str, REQUIRED),
        FieldSpec("reason", "reason", _STR),
        FieldSpec("count", "count", int_between(0), REQUIRED),
    )
    phase: str
    reason: str | None
    count: int


class OrchestrationRunStatus(Record):
    TWIN = _twin("OrchestrationRunStatus")
    FIELDS = (
        FieldSpec("observed_generation", "observedGeneration", _INT),
        FieldSpec("orchestration_generation", "orchestrationGeneration", _INT),
        FieldSpec("phase", "phase", _STR),
        FieldSpec("run_id", "runId", _STR),
        FieldSpec("updated_at", "updatedAt", _STR),
        FieldSpec("progress", "progress", _STR),
        FieldSpec("started_at", "startedAt", _STR),
        FieldSpec("finished_at", "finishedAt", _STR),
        FieldSpec("workflow_ref", "workflowRef", optional(record(lambda: WorkflowRef))),
        FieldSpec("workflows", "workflows", optional(list_of(record(lambda: WorkflowRef)))),
        FieldSpec("step_statuses", "stepStatuses", optional(list_of(record(lambda: StepStatus)))),
        FieldSpec("step_counts", "stepCounts", optional(list_of(record(lambda: StepCount)))),
        FieldSpec("conditions", "conditions", _CONDITIONS),
        FieldSpec("seal", "seal", _STR),
    )
    observed_generation: int | None
    orchestration_generation: int | None
    phase: str | None
    run_id: str | None
    updated_at: str | None
    progress: str | None
    started_at: str | None
    finished_at: str | None
    workflow_ref: WorkflowRef | None
    workflows: list[WorkflowRef] | None
    step_statuses: list[StepStatus] | None
    step_counts: list[StepCount] | None
    conditions: list[Condition] | None
    seal: str | None


class OrchestrationRun(Record):
    TWIN = _twin("OrchestrationRun")
    FIELDS = (
        FieldSpec("api_version", "apiVersion", _API_VERSION, REQUIRED),
        FieldSpec("kind", "kind", literal("OrchestrationRun"), REQUIRED),
        FieldSpec("metadata", "metadata", record(lambda: ObjectMeta), REQUIRED),
        FieldSpec("spec", "spec", record(lambda: OrchestrationRunSpec), REQUIRED),
        FieldSpec("status", "status", optional(record(lambda: OrchestrationRunStatus))),
    )
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: OrchestrationRunSpec
    status: OrchestrationRunStatus | None
