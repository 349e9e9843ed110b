"""A valid Orchestration (and optionally a run of it) -> one Argo Workflow.

The entry template is a DAG with `failFast: false`, tasks in declaration order.
Templates are shared: steps that differ only in their arguments use one template,
so a 200-step orchestration stays far below Argo's 200-template and 1 MiB limits.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from compiler.diagnostics import Collector, FieldPath, Severity
from compiler.kinds import KINDS, Emitted, StepContext
from compiler.kinds.base import argo_literal, article
from compiler.limits import MAX_TEMPLATES as MAX_TEMPLATES  # (re-exported)
from compiler.limits import MAX_WORKFLOW_BYTES
from compiler.outcome import MAX_TASKS, OUTCOME_TEMPLATE, outcome_task
from compiler.pods import DEFAULT_PODS, PodSettings, workflow_pod_fields
from compiler.policies import Policies, read_policies
from compiler.resume import NO_OP, REUSED_TEMPLATE
from compiler.step_fields import step_parameters
from compiler.tools import Tool
from compiler.validate import check_run_parameters
from orchapi.api import DEPTH_ANNOTATION, ORCHESTRATION_LABEL, RUN_LABEL, depth_of
from orchapi.argo import ARGO_API_VERSION, UNBOUNDED_SECONDS, UNBOUNDED_TIMEOUT, WORKFLOW_KIND
from orchapi.graph import Graph, build_graph
from orchapi.models import Orchestration, OrchestrationRun, Step
from orchapi.names import MAX_TEMPLATE_NAME, MAX_WORKFLOW_NAME, label_value, short_hash, shorten
from orchapi.vocabulary import Reason

MAX_BYTES = MAX_WORKFLOW_BYTES
WARN_BYTES = 512 * 1024
DEFAULT_ENTRYPOINT = "main"


@dataclass(frozen=True)
class Compiled:
    workflow: dict[str, Any]
    graph: Graph
    size: int


@dataclass(frozen=True)
class EmitSettings:
    """How a run compiles beyond what its Orchestration says, for `emit_workflow`
    and `compiler.emit_run.emit_run` alike."""

    service_account: str | None = None
    pods: PodSettings = DEFAULT_PODS
    # Steps of a resumed run that already succeeded (`compiler.resume`): no-op
    # tasks that succeed at once; their dependencies stay, so the DAG keeps its shape.
    reused: Collection[str] = ()
    # The Tools a ToolRun step may name, where they were looked for and what to do
    # when one is missing (`ToolNotFound`). None: an Orchestration judged on its
    # own; a ToolRun step is then a stand-in container, not one to submit.
    tools: Mapping[str, Tool] | None = None
    tools_where: str = "in the input"
    tools_hint: str | None = None
    # The controller's: each SubOrchestration step's share of the run's descendant
    # budget, written on the child runs it creates.
    descendants: Mapping[str, int] | None = None


DEFAULT_SETTINGS: Final = EmitSettings()


@dataclass(frozen=True)
class Tasks:
    """A run's step tasks and the templates they use, before any Workflow holds them."""

    graph: Graph
    policies: Policies
    run_params: dict[str, str]
    entry: str
    tasks: list[dict[str, Any]]
    templates: dict[str, dict[str, Any]]  # name -> template, first use order
    not_retried: list[str]  # Template steps the policies' retries cannot reach


def run_tasks(orchestration: Orchestration, run: OrchestrationRun | None, out: Collector,
              settings: EmitSettings) -> Tasks:
    """Every step's task (`emit_tasks`), after the run's own checks (its
    parameters, its depth in a chain of SubOrchestration runs)."""
    depth = 0
    if run is not None:
        check_run_parameters(orchestration, run, out)
        depth = checked_depth(run, out)
    graph = build_graph(orchestration.spec.steps)
    policies = read_policies(orchestration.spec.policies)
    run_params = dict(run.spec.parameters or {}) if run else {}
    entry = orchestration.spec.entrypoint or DEFAULT_ENTRYPOINT
    templates: dict[str, dict[str, Any]] = {}
    not_retried: list[str] = []
    tasks = emit_tasks(orchestration, graph, templates, entry, run_params, out, settings,
                       depth, policies.retries, not_retried)
    return Tasks(graph, policies, run_params, entry, tasks, templates, not_retried)


def emit_workflow(
    orchestration: Orchestration,
    run: OrchestrationRun | None = None,
    out: Collector | None = None,
    settings: EmitSettings = DEFAULT_SETTINGS,
) -> Compiled:
    """The Workflow for `orchestration` (named after `run` when given). Problems
    only the compiled form shows (size, template count, settings Argo cannot
    apply, a ToolRun's Tool missing from `settings.tools`) go to `out`; the
    caller decides whether to keep the result."""
    out = out if out is not None else Collector()
    made = run_tasks(orchestration, run, out, settings)
    graph, templates, tasks = made.graph, made.templates, made.tasks
    # argo-workflows#13498: a final task so that Argo's own phase is the run's
    # (compiler.outcome says when and why); only where Argo's limits leave room.
    final = outcome_task(graph)
    if final is not None and len(templates) + 2 <= MAX_TEMPLATES:
        tasks.append(ordered_task(final[0]))
        templates[OUTCOME_TEMPLATE] = final[1]

    warn_not_retried(made.not_retried, out)
    workflow = workflow_object(
        orchestration, run, settings.service_account, settings.pods, made.run_params,
        [{"name": made.entry, "dag": {"failFast": False, "tasks": tasks}},
         *({"name": name, **body} for name, body in templates.items())],
        policies=made.policies)
    spec = workflow["spec"]
    if len(graph.nodes) > MAX_TASKS:
        out.add(
            Reason.WORKFLOW_TOO_LARGE,
            FieldPath(("spec", "steps")),
            f"{len(graph.nodes)} steps in one DAG; Argo allows at most {MAX_TASKS} tasks "
            "in a DAG template",
            hint="orch compile splits it into several DAGs and Workflows (docs/scale.md); "
            "this controller runs at most 200 steps until it runs split Workflows",
        )
    if len(spec["templates"]) > MAX_TEMPLATES:
        out.add(
            Reason.WORKFLOW_TOO_LARGE,
            FieldPath(("spec", "steps")),
            f"the Workflow would have {len(spec['templates'])} templates; "
            f"Argo allows at most {MAX_TEMPLATES}",
            hint="give steps that run the same container identical fields so they share one",
        )
    size = len(json.dumps(workflow, separators=(",", ":")).encode())
    if size > MAX_BYTES:
        out.add(
            Reason.WORKFLOW_TOO_LARGE,
            FieldPath(("spec",)),
            f"the compiled Workflow is {size} bytes; Argo refuses objects over {MAX_BYTES}",
            hint="split the orchestration with SubOrchestration steps",
        )
    elif size > WARN_BYTES:
        out.add(
            Reason.WORKFLOW_TOO_LARGE,
            FieldPath(("spec",)),
            f"the compiled Workflow is {size} bytes, over half of Argo's {MAX_BYTES} limit",
            severity=Severity.WARNING,
        )
    return Compiled(workflow, graph, size)


def warn_not_retried(names: Sequence[str], out: Collector) -> None:
    """The Template steps `spec.policies.retries` cannot reach, said once."""
    if names:
        out.add(Reason.INVALID_FIELD, FieldPath(("spec", "policies", "retries", "limit")),
                f"retries.limit does not reach the Template step(s) {', '.join(names)}: "
                "Argo takes their retries from the referenced WorkflowTemplate",
                severity=Severity.WARNING, names=tuple(names))


def workflow_object(
    orchestration: Orchestration,
    run: OrchestrationRun | None,
    service_account: str | None,
    pods: PodSettings,
    run_params: Mapping[str, str],
    templates: list[dict[str, Any]],
    name: str | None = None,
    policies: Policies | None = None,
) -> dict[str, Any]:
    """The Workflow around `templates` (the first is the entrypoint): its name
    (the run's, or `name`), labels, pod settings, the run's parameters and its
    deadline (`spec.policies.timeouts.totalSeconds`)."""
    policies = policies or Policies()
    labels = {ORCHESTRATION_LABEL: label_value(orchestration.metadata.name or "")}
    metadata: dict[str, Any] = {}
    if run is not None:
        metadata["name"] = name or workflow_name(run.metadata.name or "")
        labels[RUN_LABEL] = label_value(run.metadata.name or "")
    else:
        metadata["generateName"] = f"{orchestration.metadata.name}-"
    namespace = (run.metadata.namespace if run else None) or orchestration.metadata.namespace
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = labels
    if policies.annotations:
        metadata["annotations"] = policies.annotations

    # The run's deadline, or none: pinned, so that a cluster's Argo default deadline
    # (workflowDefaults) cannot end the run (compiler.argo_defaults).
    spec: dict[str, Any] = {"entrypoint": templates[0]["name"],
                            "activeDeadlineSeconds": policies.total_seconds or UNBOUNDED_SECONDS}
    if service_account:
        spec["serviceAccountName"] = service_account
    spec.update(workflow_pod_fields(pods, service_account))
    if run_params:
        spec["arguments"] = {
            "parameters": [{"name": k, "value": argo_literal(v)} for k, v in run_params.items()]
        }
    spec["podMetadata"] = {"labels": dict(labels)}
    spec["templates"] = templates
    return {
        "apiVersion": ARGO_API_VERSION,
        "kind": WORKFLOW_KIND,
        "metadata": metadata,
        "spec": spec,
    }


def emit_tasks(
    orchestration: Orchestration,
    graph: Graph,
    templates: dict[str, dict[str, Any]],
    entry: str,
    run_params: Mapping[str, str],
    out: Collector,
    settings: EmitSettings,
    depth: int,
    default_retries: int | None,
    not_retried: list[str],
) -> list[dict[str, Any]]:
    """Each step's task, in declaration order, with its dependencies as `graph`
    has them; the templates they run are added to `templates` (identical ones
    shared, never named `entry`). A step without `retries` takes `default_retries`
    (spec.policies) where Argo can retry it; the Template steps it cannot reach
    are added to `not_retried`."""
    by_content: dict[str, str] = {}  # canonical template JSON -> name
    tasks: list[dict[str, Any]] = []
    for i, (step, node) in enumerate(zip(orchestration.spec.steps, graph.nodes, strict=True)):
        path = FieldPath(("spec", "steps", i))
        task: dict[str, Any] = {"name": step.name}
        if step.name in settings.reused:
            task["template"] = REUSED_TEMPLATE
            templates.setdefault(REUSED_TEMPLATE, {"suspend": dict(NO_OP["suspend"])})
            if node.dependencies:
                task["dependencies"] = list(node.dependencies)
            if step.continue_on_failure:  # moot for a no-op; kept so the graph reads back
                task["continueOn"] = {"failed": True}
            tasks.append(ordered_task(task))
            continue
        ctx = StepContext(label_value(step.name), step_parameters(run_params, step.with_),
                          settings.pods, tools=settings.tools,
                          tools_where=settings.tools_where, depth=depth,
                          descendants=None if settings.descendants is None
                          else settings.descendants.get(step.name),
                          out=out, path=path, tools_hint=settings.tools_hint)
        before = len(out.items)
        emitted = KINDS[step.kind].build(step, ctx)
        if any(d.is_error for d in out.items[before:]):
            pass  # the step cannot be built (a missing Tool): the Workflow is refused
        elif emitted.template is not None:
            template = dict(emitted.template)
            base = _apply_settings(step, template, emitted, path, out, default_retries)
            task["template"] = _intern(template, base, templates, by_content, entry)
            _warn_no_ops(step, emitted, path, out, default_retries)
        else:
            _refuse_settings(step, path, out)
            if step.retries is None and default_retries:
                not_retried.append(step.name)
        task.update(emitted.task)
        if node.dependencies:
            task["dependencies"] = list(node.dependencies)
        if step.continue_on_failure:
            task["continueOn"] = {"failed": True}
        tasks.append(ordered_task(task))
    return tasks


def checked_depth(run: OrchestrationRun, out: Collector) -> int:
    """The run's place in a chain of SubOrchestration runs: its depth annotation
    (written by its parent's step), 0 without one; a value that is not a whole
    number is `InvalidField` (the controller refuses it before: admission)."""
    depth = depth_of(run.metadata.annotations)
    if depth is None:
        value = (run.metadata.annotations or {}).get(DEPTH_ANNOTATION)
        out.add(Reason.INVALID_FIELD, FieldPath(("metadata", "annotations", DEPTH_ANNOTATION)),
                f"the depth annotation must be a whole number, got {value!r}",
                hint="orch writes it on child runs; a run a person creates has none")
        return 0
    return depth


def workflow_name(run_name: str) -> str:
    """The run's name, shortened with a stable hash only past Argo's limit."""
    return shorten(run_name, MAX_WORKFLOW_NAME)


_TASK_ORDER = ("name", "template", "templateRef", "dependencies", "continueOn", "arguments")


def ordered_task(task: Mapping[str, Any]) -> dict[str, Any]:
    return {k: task[k] for k in _TASK_ORDER if k in task}


def _apply_settings(
    step: Step,
    template: dict[str, Any],
    emitted: Emitted,
    path: FieldPath,
    out: Collector,
    default_retries: int | None = None,
) -> str:
    """retries/backoff/timeout onto the template; the name says which apply. A step
    that gives no `retries` takes `default_retries` (spec.policies.retries.limit)
    where it can be retried; a wait or a no-op is not retried by a policy."""
    base, retries_ok, timeout_ok = emitted.base_name, emitted.honours_retries, \
        emitted.honours_timeout
    suffix = ""
    retries = step.retries if step.retries is not None else (
        default_retries if retries_ok else None)
    if retries is not None and retries > 0:
        if retries_ok:
            # IntOrString; Argo's JSON schema accepts only its string form.
            strategy: dict[str, Any] = {"limit": str(retries), "retryPolicy": "Always"}
            suffix += f"-retry{retries}"
            if step.retry_backoff_seconds:
                strategy["backoff"] = {"duration": f"{step.retry_backoff_seconds}s"}
                suffix += f"-backoff{step.retry_backoff_seconds}s"
            template["retryStrategy"] = strategy
        else:
            out.add(
                Reason.INVALID_FIELD,
                path.child("retries"),
                f"{article(step.kind)} step {emitted.why_no_retries}; "
                "retries would have no effect",
                severity=Severity.WARNING,
            )
    timeout = step.timeout_seconds if step.timeout_seconds is not None \
        else emitted.default_timeout
    if timeout and not emitted.timeout_by_controller:
        if timeout_ok:
            template["timeout"] = f"{timeout}s"
            suffix += f"-timeout{timeout}s"
        else:
            out.add(
                Reason.INVALID_FIELD,
                path.child("timeoutSeconds"),
                f"{article(step.kind)} step is a suspend node, on which Argo refuses "
                "a timeout; it has no effect",
                severity=Severity.WARNING,
            )
    elif timeout_ok:
        # No timeout, pinned: a cluster's templateDefaults.timeout cannot give it one.
        template["timeout"] = UNBOUNDED_TIMEOUT
    return base + suffix


def _warn_no_ops(step: Step, emitted: Emitted, path: FieldPath, out: Collector,
                 default_retries: int | None = None) -> None:
    """Settings that are written but do nothing, said so rather than silently
    dropped: a backoff without retries (the step's, else the policies'), and
    `timeoutSeconds: 0`, which sets no timeout (as in the reference system, where
    only a positive one counts)."""
    retries = step.retries if step.retries is not None else (
        default_retries if emitted.honours_retries else None)
    if step.retry_backoff_seconds and not retries:
        out.add(Reason.INVALID_FIELD, path.child("retryBackoffSeconds"),
                "retryBackoffSeconds has no effect without retries: it is the wait "
                "between attempts",
                hint="set retries (how many times to try again), or remove it",
                severity=Severity.WARNING)
    if step.timeout_seconds == 0:
        tool = (f"; the Tool's timeoutSeconds ({emitted.default_timeout}) does not apply "
                "either") if emitted.default_timeout else ""
        out.add(Reason.INVALID_FIELD, path.child("timeoutSeconds"),
                f"timeoutSeconds 0 sets no timeout{tool}",
                hint="remove it for no timeout, or give the seconds the step may run "
                     "(a positive number)",
                severity=Severity.WARNING)


def _refuse_settings(step: Step, path: FieldPath, out: Collector) -> None:
    for value, key in (
        (step.retries, "retries"),
        (step.timeout_seconds, "timeoutSeconds"),
        (step.retry_backoff_seconds, "retryBackoffSeconds"),
    ):
        if value:
            out.add(
                Reason.INVALID_FIELD,
                path.child(key),
                f"Argo takes {key} of {article(step.kind)} step from the referenced "
                "WorkflowTemplate; it cannot be set here",
                hint="set retryStrategy/timeout on the template in the WorkflowTemplate",
            )
        elif value == 0:
            # 0 reads as "none" (no retries, no timeout), which the step cannot give
            # either: the referenced template's own setting applies. Said, not dropped.
            out.add(
                Reason.INVALID_FIELD,
                path.child(key),
                f"{key} 0 has no effect on {article(step.kind)} step: Argo takes {key} "
                "from the referenced WorkflowTemplate, whose own setting applies",
                hint="remove it; to change it, set retryStrategy/timeout on the template "
                     "in the WorkflowTemplate",
                severity=Severity.WARNING,
            )


def _intern(
    template: dict[str, Any],
    base: str,
    templates: dict[str, dict[str, Any]],
    by_content: dict[str, str],
    entry: str,
) -> str:
    """The name of an identical template already emitted, or a new unique one
    (never the entry DAG's own name, which a settings suffix could produce)."""
    key = json.dumps(template, sort_keys=True, separators=(",", ":"))
    if key in by_content:
        return by_content[key]
    name = shorten(base, MAX_TEMPLATE_NAME)
    if name in templates or name == entry:
        name = f"{shorten(base, MAX_TEMPLATE_NAME - 9)}-{short_hash(key)}"
    templates[name] = template
    by_content[key] = name
    return name
