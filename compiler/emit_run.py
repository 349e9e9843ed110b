"""A run -> its Workflows: one, as `compiler.emit` makes it, when the steps fit one
DAG template inside Argo's limits; else the parts of `compiler.partition`, with a
gate (`compiler.gates`) for every edge between parts (contract §8).

Why a module apart from `compiler.emit`: what fits one DAG compiles byte for byte
as before (the goldens do not change), and the split is a second shape with its
own rules, written here:

- A Workflow holding one part runs it as its entry DAG; a Workflow holding several
  runs them from an entry DAG whose tasks are the parts, with no dependencies
  between them: each part's DAG starts at once, and a step inside it waits only
  for the tasks of its own DAG (its steps and its gates). No part waits for a
  part; that is what keeps the split free of barriers.
- Every part DAG has `failFast: false`, and its own outcome task where one of its
  leaves is best-effort (`compiler.outcome`: Argo's phase of the part is then
  what its steps say; each Workflow's phase, and the run's, follow).
- The Workflows of a run are named `<run>-1`, `<run>-2`, ... and carry the run's
  labels and the annotation `orchestration.proompteng.ai/workflow-part` (`i/k`);
  `.../step-indexes` lists the declaration index of each of its step tasks in the
  order `steps_of` reads them, so that the run's graph reads back in order.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from compiler.diagnostics import Collector, FieldPath
from compiler.emit import (
    DEFAULT_SETTINGS,
    MAX_BYTES,
    EmitSettings,
    emit_workflow,
    ordered_task,
    run_tasks,
    warn_not_retried,
    workflow_name,
    workflow_object,
)
from compiler.gates import GATE_TASK, GATE_TEMPLATE, gate_task
from compiler.gates import TEMPLATE as GATE
from compiler.limits import ARGO_LIMITS, ArgoLimits
from compiler.outcome import OUTCOME_TEMPLATE, outcome_task
from compiler.outcome import TEMPLATE as OUTCOME
from orchapi.api import PART_ANNOTATION, STEP_INDEXES_ANNOTATION, Obj
from orchapi.graph import Graph, Node
from orchapi.models import Orchestration, OrchestrationRun
from orchapi.names import MAX_WORKFLOW_NAME, shorten
from orchapi.vocabulary import Reason

if TYPE_CHECKING:  # a split's: the partitioner loads when a run is split (`_emit_split`)
    from compiler.partition import Part, Plan, StepCost

PART_TEMPLATE = "orch-part"  # part DAG templates: orch-part-1, orch-part-2, ...
PART_TASK = "part"  # their tasks in a Workflow's entry DAG: part-1, part-2, ...


@dataclass(frozen=True)
class CompiledRun:
    """The run's Workflows; `plan` is None when it is one Workflow as before."""

    workflows: tuple[Obj, ...]
    graph: Graph
    plan: Plan | None = None

    @property
    def is_split(self) -> bool:
        return self.plan is not None

    @property
    def workflow(self) -> Obj:
        """The run's only Workflow (a run that is not split)."""
        assert len(self.workflows) == 1, "a split run has several Workflows"
        return self.workflows[0]


def emit_run(
    orchestration: Orchestration,
    run: OrchestrationRun | None = None,
    out: Collector | None = None,
    settings: EmitSettings = DEFAULT_SETTINGS,
    limits: ArgoLimits = ARGO_LIMITS,
) -> CompiledRun:
    """The run's Workflows (arguments as `compiler.emit.emit_workflow`'s; `limits`
    are Argo's unless a test shrinks them). Problems go to `out`."""
    out = out if out is not None else Collector()
    if len(orchestration.spec.steps) <= limits.tasks:
        scratch = Collector()
        single = emit_workflow(orchestration, run, scratch, settings)
        if _fits(single.workflow, single.size, limits) or any(
                d.is_error and d.reason is not Reason.WORKFLOW_TOO_LARGE
                for d in scratch.items):
            out.items.extend(scratch.items)
            return CompiledRun((single.workflow,), single.graph)
    return _emit_split(orchestration, run, out, settings, limits)


def _fits(workflow: Obj, size: int, limits: ArgoLimits) -> bool:
    templates = workflow["spec"]["templates"]
    tasks = len(templates[0]["dag"]["tasks"])
    return (len(templates) <= limits.templates and tasks <= limits.tasks
            and size + tasks * limits.node_bytes <= limits.bytes)


def _emit_split(orchestration: Orchestration, run: OrchestrationRun | None, out: Collector,
                settings: EmitSettings, limits: ArgoLimits) -> CompiledRun:
    # Here, not at the top: a run that fits one DAG never loads the partitioner.
    from compiler.compiled import steps_of
    from compiler.partition import TooLargeError, plan_parts

    before = len(out.items)
    made = run_tasks(orchestration, run, out, settings)
    graph, templates, tasks, entry = made.graph, made.templates, made.tasks, made.entry
    warn_not_retried(made.not_retried, out)
    if any(d.is_error for d in out.items[before:]):
        return CompiledRun((), graph)
    by_name = {t["name"]: t for t in tasks}
    costs = step_costs(tasks, templates)
    try:
        plan = plan_parts(graph, costs, limits)
    except TooLargeError as exc:
        at = FieldPath(("spec", "steps", graph.names.index(exc.step)))
        out.add(Reason.WORKFLOW_TOO_LARGE, at,
                f'step "{exc.step}" alone makes a Workflow of about {exc.size} bytes; one '
                f"Workflow holds {exc.budget}", hint="make its fields smaller")
        return CompiledRun((), graph)
    index = {name: i for i, name in enumerate(graph.names)}
    taken = set(graph.names)
    part_names = _unique_names(PART_TEMPLATE, len(plan.parts), {*templates, entry})
    count = len(plan.workflows)
    base = workflow_name(run.metadata.name or "") if run is not None else ""
    workflows: list[Obj] = []
    g = 0
    for w, parts in enumerate(plan.workflows):
        dags: list[Obj] = []
        for p, part in enumerate(parts):
            own = entry if len(parts) == 1 else part_names[g + p]
            dags.append({"name": own, "dag": {"failFast": False,
                                              "tasks": _part_tasks(part, by_name, taken)}})
        if len(parts) > 1:
            dags.insert(0, {"name": entry, "dag": {"failFast": False, "tasks": [
                {"name": f"{PART_TASK}-{g + p + 1}", "template": d["name"]}
                for p, d in enumerate(dags)]}})
        g += len(parts)
        used = _used_templates(dags, templates)
        suffix = f"-{w + 1}"
        name = shorten(base, MAX_WORKFLOW_NAME - len(suffix)) + suffix if base else None
        workflow = workflow_object(orchestration, run, settings.service_account,
                                   settings.pods, made.run_params, [*dags, *used], name,
                                   made.policies)
        steps = steps_of(workflow)
        workflow["metadata"].setdefault("annotations", {}).update({
            PART_ANNOTATION: f"{w + 1}/{count}",
            STEP_INDEXES_ANNOTATION: json.dumps([index[t["name"]] for t in steps],
                                                separators=(",", ":")),
        })
        _check_limits(workflow, w, _workflow_bytes(workflow, steps, costs), out)
        workflows.append(workflow)
    return CompiledRun(tuple(workflows), graph, plan)


# Compact JSON, non-ASCII escaped: as many characters as the apiserver stores bytes
# for ASCII, and more than it stores for the rest (a `\uXXXX` escape is 6).
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def step_costs(tasks: Sequence[Obj], templates: Mapping[str, Obj]) -> dict[str, StepCost]:
    """What each step's task and template weigh (JSON bytes, never fewer), and its
    Argo nodes."""
    from compiler.partition import StepCost

    sizes = {name: len(_ENCODE({"name": name, **t})) for name, t in templates.items()}
    costs: dict[str, StepCost] = {}
    for task in tasks:
        template = task.get("template")
        body = templates.get(template) if isinstance(template, str) else None
        retries = ((body or {}).get("retryStrategy") or {}).get("limit")
        nodes = 1 + (int(retries) + 1 if retries is not None else 0)
        name = template if isinstance(template, str) and body is not None else None
        costs[task["name"]] = StepCost(name, len(_ENCODE(task)), sizes.get(name or "", 0), nodes)
    return costs


def _unique_names(prefix: str, count: int, taken: Collection[str]) -> list[str]:
    """`prefix-1`, `prefix-2`, ...: `count` names, none of them in `taken`."""
    names: list[str] = []
    n = 0
    while len(names) < count:
        n += 1
        name = f"{prefix}-{n}"
        if name not in taken:
            names.append(name)
    return names


def _part_tasks(part: Part, by_name: Mapping[str, Obj], taken: Collection[str]) -> list[Obj]:
    """The part's DAG: its gates, its steps (dependencies outside the part replaced
    by the gates that stand for them; the step tasks are the part's own, changed in
    place), and its outcome task when it needs one."""
    gate_names = _unique_names(GATE_TASK, len(part.gates), taken)
    behind: dict[str, list[str]] = {}  # step -> the gates it waits on
    for name, gate in zip(gate_names, part.gates, strict=True):
        for target in gate.targets:
            behind.setdefault(target, []).append(name)
    members = set(part.steps)
    tasks: list[Obj] = [gate_task(n, g.sources) for n, g in zip(gate_names, part.gates,
                                                                   strict=True)]
    depended: set[str] = set(gate_names)  # the gates have dependents, by construction
    for step in part.steps:
        task = by_name[step]
        old = task.get("dependencies")
        if old is not None or step in behind:
            inside = [d for d in old or () if d in members]
            depended.update(inside)
            dependencies = [*inside, *behind.get(step, ())]
            if dependencies != old:
                task.pop("dependencies", None)
                task = _with_dependencies(task, dependencies) if dependencies else task
        tasks.append(task)
    final = _outcome(tasks, depended)
    if final is not None:
        tasks.append(final)
    return tasks


def _outcome(tasks: Sequence[Obj], depended: Collection[str]) -> Obj | None:
    """The part's outcome task (compiler.outcome) when one of its leaves is
    best-effort."""
    leaves = [t for t in tasks if t["name"] not in depended]
    if not any((t.get("continueOn") or {}).get("failed") for t in leaves):
        return None
    graph = Graph(tuple(Node(t["name"], "", tuple(t.get("dependencies") or ()),
                             bool((t.get("continueOn") or {}).get("failed"))) for t in tasks))
    final = outcome_task(graph)
    return final[0] if final is not None else None


def _with_dependencies(task: Obj, dependencies: list[str]) -> Obj:
    return ordered_task({**task, "dependencies": dependencies})


def _used_templates(dags: Sequence[Obj], templates: Mapping[str, Obj]) -> list[Obj]:
    """The step templates the DAGs' tasks run (first use first), then the gate's and
    the outcome's when used."""
    used: dict[str, Obj] = {}
    for dag in dags:
        for task in dag["dag"]["tasks"]:
            name = task.get("template")
            if name in templates and name not in used:
                used[name] = {"name": name, **templates[name]}
            elif name == GATE_TEMPLATE:
                used.setdefault(name, {"name": name, **copy.deepcopy(GATE)})
            elif name == OUTCOME_TEMPLATE:
                used.setdefault(name, {"name": name, **copy.deepcopy(OUTCOME)})
    specials = [used.pop(n) for n in (GATE_TEMPLATE, OUTCOME_TEMPLATE) if n in used]
    return [*used.values(), *specials]


def _workflow_bytes(workflow: Obj, steps: Sequence[Obj], costs: Mapping[str, StepCost]) -> int:
    """At least the bytes of the Workflow's JSON (its step tasks as `step_costs`
    measured them before the split rewrote their dependencies: a gate's name is
    rarely longer than the dependencies it replaces, and the plan keeps a quarter of
    the limit free)."""
    spec = workflow["spec"]
    own = {id(t) for t in steps}
    rest = {**workflow, "spec": {**spec, "templates": [
        {**t, "dag": {**t["dag"], "tasks": [x for x in t["dag"]["tasks"] if id(x) not in own]}}
        if "dag" in t else t for t in spec["templates"]]}}
    return len(_ENCODE(rest)) + sum(costs[t["name"]].task_bytes + 1 for t in steps)


def _check_limits(workflow: Obj, w: int, estimate: int, out: Collector) -> None:
    """A safety net under the plan's estimates: Argo's hard limits, checked on the
    emitted Workflow (its bytes counted exactly only when the plan's estimate of
    them, which never counts fewer, comes near)."""
    from compiler.limits import MAX_TEMPLATES
    from compiler.outcome import MAX_TASKS

    templates = workflow["spec"]["templates"]
    biggest = max(len(t["dag"]["tasks"]) for t in templates if "dag" in t)
    size = len(json.dumps(workflow, separators=(",", ":")).encode()) \
        if estimate > MAX_BYTES // 2 else estimate
    if len(templates) > MAX_TEMPLATES or biggest > MAX_TASKS or size > MAX_BYTES:
        out.add(Reason.WORKFLOW_TOO_LARGE, FieldPath(("spec", "steps")),
                f"Workflow {w + 1} of the split would have {len(templates)} templates, a DAG "
                f"of {biggest} tasks and {size} bytes; Argo allows {MAX_TEMPLATES}, "
                f"{MAX_TASKS} and {MAX_BYTES}", hint="report this: the split is wrong")
