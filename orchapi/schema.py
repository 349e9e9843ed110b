"""The pydantic definitions of the `orchestration.proompteng.ai/v1alpha1` resources:
the schema the CRDs are generated from (`compiler.crd`) and the judge of a
document `orchapi.models` cannot accept at a glance (its errors become the
diagnostics, `compiler.validate`).

They accept every object the reference CRDs accept: step keys the CRDs keep as
unknown fields (`implementationSpecRef`, `runtime`, `secrets`, ...) are kept as
extras, never dropped. Scalars are strict, as the apiserver is: `retries: "3"` or
`with: {n: 1}` are rejected, not coerced. `orchapi.models` holds the same classes
without pydantic, which costs half of a cold `orch compile`; a test holds the two
equal (`tests/unit/orchapi/test_models_twin.py`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from orchapi.api import INT32_MAX, MAX_STEPS
from orchapi.models import MAX_NAME_LENGTH, MAX_PARAMETERS, PRESERVE_UNKNOWN_FIELDS

Int32 = Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]


class _Model(BaseModel):
    # One spelling: the CRD's camelCase alias (`depends_on` is an unknown key,
    # which `compiler.unknown_keys` names as a misspelling).
    model_config = ConfigDict(extra="allow", strict=True)


class NameRef(_Model):
    """A reference to an object by name (`agentRef`, `toolRef`, ...)."""

    name: StrictStr


class TemplateRef(_Model):
    """A WorkflowTemplate (or ClusterWorkflowTemplate) and one template in it."""

    name: StrictStr
    template: StrictStr
    cluster_scope: StrictBool = Field(False, alias="clusterScope")


class EnvVar(_Model):
    """A Container step's environment variable (`valueFrom` is checked against the
    Kubernetes schema by `compiler.kinds.container`)."""

    name: StrictStr
    value: StrictStr | None = None
    value_from: dict[str, Any] | None = Field(None, alias="valueFrom")


class Step(_Model):
    """One step. Kind-specific fields are optional here and required per kind by
    `compiler.validate`, so one missing field is one diagnostic."""

    model_config = ConfigDict(json_schema_extra=PRESERVE_UNKNOWN_FIELDS)

    name: StrictStr = Field(max_length=MAX_NAME_LENGTH)
    kind: StrictStr
    depends_on: list[StrictStr] | None = Field(
        None, alias="dependsOn", max_length=MAX_STEPS,
        description="Names of the steps this step waits for. If any step has this key, the "
        "orchestration is a DAG and a step without it starts at once; otherwise steps run "
        "one after another.")
    continue_on_failure: StrictBool = Field(
        False, alias="continueOnFailure",
        description="When true, a failure of this step does not stop the steps that depend "
        "on it (an infrastructure error still does).")
    retries: Int32 | None = None
    retry_backoff_seconds: Int32 | None = Field(None, alias="retryBackoffSeconds")
    timeout_seconds: Int32 | None = Field(None, alias="timeoutSeconds")
    with_: dict[StrictStr, StrictStr] | None = Field(None, alias="with",
                                                     max_length=MAX_PARAMETERS)
    agent_ref: NameRef | None = Field(None, alias="agentRef")
    tool_ref: NameRef | None = Field(None, alias="toolRef")
    orchestration_ref: NameRef | None = Field(None, alias="orchestrationRef")
    policy_ref: StrictStr | None = Field(None, alias="policyRef")
    # Container (new kind)
    image: StrictStr | None = None
    command: list[StrictStr] | None = None
    args: list[StrictStr] | None = None
    env: list[EnvVar] | None = None
    # Template (new kind)
    template_ref: TemplateRef | None = Field(None, alias="templateRef")


class ObjectMeta(_Model):
    name: StrictStr | None = None
    generate_name: StrictStr | None = Field(None, alias="generateName")
    namespace: StrictStr | None = None
    labels: dict[StrictStr, StrictStr] | None = None
    annotations: dict[StrictStr, StrictStr] | None = None
    generation: StrictInt | None = None
    uid: StrictStr | None = None


class OrchestrationSpec(_Model):
    entrypoint: StrictStr | None = None
    steps: list[Step]  # at most maxSteps: compiler.validate, and the CRD's maxItems
    policies: dict[str, Any] | None = None


class Condition(_Model):
    """A condition as stored (the CRD's schema, and parsing). The semantics compute
    `orchapi.semantics.DecidedCondition` (type, status, reason, message) and the
    controller stamps it into this shape (`controller.conditions.to_dict`): two
    classes for two jobs, one set of words (`orchapi.vocabulary`)."""

    type: StrictStr
    status: Literal["True", "False", "Unknown"]
    reason: StrictStr | None = None
    message: StrictStr | None = None
    observed_generation: StrictInt | None = Field(None, alias="observedGeneration")
    last_transition_time: StrictStr | None = Field(None, alias="lastTransitionTime")


class OrchestrationStatus(_Model):
    observed_generation: StrictInt | None = Field(None, alias="observedGeneration")
    phase: StrictStr | None = None
    updated_at: StrictStr | None = Field(None, alias="updatedAt")
    conditions: list[Condition] | None = None


class Orchestration(_Model):
    api_version: Literal["orchestration.proompteng.ai/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["Orchestration"]
    metadata: ObjectMeta
    spec: OrchestrationSpec
    status: OrchestrationStatus | None = None


class OrchestrationRef(_Model):
    name: StrictStr


class ResumeFrom(_Model):
    """The ended run (same namespace, same Orchestration generation) whose results a
    new run reuses (contract §3, `compiler.resume`)."""

    name: StrictStr = Field(max_length=253, description="The run to resume.")
    rerun: list[Annotated[StrictStr, Field(max_length=MAX_NAME_LENGTH)]] | None = Field(
        None, max_length=MAX_STEPS,
        description="Steps to run again although they succeeded (and what depends on them).")


class OrchestrationRunSpec(_Model):
    # Fixed once the run exists (a CEL rule per field, generated by `compiler.crd`),
    # except the fields in `MUTABLE_RUN_SPEC_FIELDS` (contract §5).
    orchestration_ref: OrchestrationRef = Field(alias="orchestrationRef")
    parameters: dict[StrictStr, StrictStr] | None = None
    delivery_id: StrictStr | None = Field(None, alias="deliveryId")
    resume_from: ResumeFrom | None = Field(
        None, alias="resumeFrom",
        description="Rerun only what did not succeed in an ended run; reuse the rest.")
    cancel: StrictBool | None = Field(
        None, description="Requests that the run be cancelled; the one field of spec "
        "that can change after the run is created.")


class WorkflowRef(_Model):
    name: StrictStr
    namespace: StrictStr | None = None
    uid: StrictStr | None = None


class ResourceRef(_Model):
    """The object a step created (AgentRun, ToolRun, child OrchestrationRun, ...)."""

    api_version: StrictStr | None = Field(None, alias="apiVersion")
    kind: StrictStr | None = None
    name: StrictStr | None = None
    namespace: StrictStr | None = None
    uid: StrictStr | None = None


class StepStatus(_Model):
    model_config = ConfigDict(json_schema_extra=PRESERVE_UNKNOWN_FIELDS)

    name: StrictStr
    kind: StrictStr
    phase: StrictStr | None = None
    reason: StrictStr | None = None
    message: StrictStr | None = None
    started_at: StrictStr | None = Field(None, alias="startedAt")
    finished_at: StrictStr | None = Field(None, alias="finishedAt")
    attempt: StrictInt | None = None
    failed_pod_restarts: StrictInt | None = Field(
        None, alias="failedPodRestarts",
        description="Times Argo recreated the step's pod because it failed before its main "
        "container started (neither a failure nor an attempt).")
    last_transition_time: StrictStr | None = Field(None, alias="lastTransitionTime")
    next_retry_at: StrictStr | None = Field(None, alias="nextRetryAt")
    resource_ref: ResourceRef | None = Field(None, alias="resourceRef")
    outputs: dict[str, Any] | None = None


class StepCount(_Model):
    """How many of the run's steps are in one phase, for one reason."""

    phase: StrictStr
    reason: StrictStr | None = None
    count: StrictInt = Field(ge=0)


class OrchestrationRunStatus(_Model):
    observed_generation: StrictInt | None = Field(None, alias="observedGeneration")
    orchestration_generation: StrictInt | None = Field(None, alias="orchestrationGeneration")
    phase: StrictStr | None = None
    run_id: StrictStr | None = Field(None, alias="runId")
    updated_at: StrictStr | None = Field(None, alias="updatedAt")
    progress: StrictStr | None = Field(
        None, description="Steps ended out of all steps, as `done/total`.")
    started_at: StrictStr | None = Field(None, alias="startedAt")
    finished_at: StrictStr | None = Field(None, alias="finishedAt")
    workflow_ref: WorkflowRef | None = Field(None, alias="workflowRef")
    workflows: list[WorkflowRef] | None = Field(
        None, description="The Workflows of a run split into several (contract §8), each "
        "named before it is created and with its uid once it exists; the run has no "
        "workflowRef then.")
    step_statuses: list[StepStatus] | None = Field(
        None, alias="stepStatuses",
        description="Every step while their records fit 256 KiB; past that, every step "
        "that has not succeeded (stepCounts counts them all).")
    step_counts: list[StepCount] | None = Field(
        None, alias="stepCounts",
        description="The steps by phase and reason, when stepStatuses does not list them "
        "all (a run of many steps).")
    conditions: list[Condition] | None = None
    seal: StrictStr | None = Field(
        None, description="The controller's MAC over the fields of this status it owns: "
        "a status it did not write is never believed.")


class OrchestrationRun(_Model):
    api_version: Literal["orchestration.proompteng.ai/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["OrchestrationRun"]
    metadata: ObjectMeta
    spec: OrchestrationRunSpec
    status: OrchestrationRunStatus | None = None
