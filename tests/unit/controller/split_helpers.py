"""A small run split as the compiler splits a big one (contract §8), with Argo
limits shrunk so that a few steps make several parts and Workflows, and Argo-shaped
node statuses written for it: each step's node inside its part's DAG node, each
gate a suspend node carrying its `gate` input, as Argo v4.0.5 records them (the
e2e tests check the same against the real Argo)."""

from __future__ import annotations

import json
from typing import Any

from compiler.compiled import steps_of
from compiler.diagnostics import Collector
from compiler.emit_run import CompiledRun, emit_run
from compiler.gates import GATE_TEMPLATE, is_gate_task
from compiler.partition import ArgoLimits
from orchapi.api import STEP_KINDS_ANNOTATION, Obj
from orchapi.models import OrchestrationRun
from tests.unit.controller.helpers import container, orchestration

RUN = "run-1"
RUN_UID = "run-uid"
API = "orchestration.proompteng.ai/v1alpha1"
LIMITS = ArgoLimits(tasks=3, templates=8)  # 3 Workflows: two of several parts
T0 = "2026-01-01T00:00:00Z"

#  a -> b -> c -> d -> e      f (a root)      g <- a, f
STEPS = [container("a", []), container("b", ["a"]), container("c", ["b"]),
         container("d", ["c"]), container("e", ["d"]), container("f", []),
         container("g", ["a", "f"], continueOnFailure=True), container("h", ["g"])]


def split_run(steps: list[Obj] | None = None) -> CompiledRun:
    """The run's Workflows, owned by the run and annotated as the controller
    submits them."""
    run = OrchestrationRun.model_validate({
        "apiVersion": API, "kind": "OrchestrationRun",
        "metadata": {"name": RUN, "namespace": "ns"}, "spec": {"orchestrationRef": {"name": "o"}}})
    out = Collector()
    compiled = emit_run(orchestration(steps or STEPS), run, out, limits=LIMITS)
    assert not [d for d in out.items if d.is_error], out.items
    assert compiled.is_split and len(compiled.workflows) > 1
    for i, wf in enumerate(compiled.workflows):
        meta = wf["metadata"]
        meta["uid"] = f"wf-uid-{i + 1}"
        meta["ownerReferences"] = [{"apiVersion": API, "kind": "OrchestrationRun",
                                    "name": RUN, "uid": RUN_UID, "controller": True}]
        own = {t["name"] for t in steps_of(wf)}
        meta["annotations"][STEP_KINDS_ANNOTATION] = json.dumps(
            {n.name: n.kind for n in compiled.graph.nodes if n.name in own})
    return compiled


def _parts(wf: Obj) -> dict[str, str]:
    """Task name -> the part template it runs, of a Workflow's entry DAG (empty when
    the entry is the only part)."""
    templates = {t["name"]: t for t in wf["spec"]["templates"]}
    entry = templates[wf["spec"]["entrypoint"]]
    return {t["name"]: t["template"] for t in entry["dag"]["tasks"]
            if "dag" in templates.get(t.get("template"), {})}


def dags(wf: Obj) -> list[tuple[str, list[Obj]]]:
    """Each DAG holding steps, as (the entry task that runs it, "" when it is the
    entry DAG itself; its tasks)."""
    templates = {t["name"]: t for t in wf["spec"]["templates"]}
    parts = _parts(wf)
    if not parts:
        return [("", templates[wf["spec"]["entrypoint"]]["dag"]["tasks"])]
    return [(task, templates[template]["dag"]["tasks"]) for task, template in parts.items()]


def with_nodes(wf: Obj, phases: dict[str, str], *, phase: str = "Running",
               gates: dict[tuple[str, ...], str] | None = None, finished: str | None = None,
               **spec: Any) -> Obj:
    """`wf` with Argo's status: a node for each step named in `phases`, and for each
    gate (waiting, unless `gates` gives its phase by its sources; no gate node when
    `gates` is None and `phase` is not Running), each in its part's DAG node.
    `spec` adds Workflow spec fields (`shutdown`)."""
    name = wf["metadata"]["name"]
    nodes: dict[str, Obj] = {name: {"id": name, "name": name, "displayName": name,
                                    "type": "DAG", "phase": phase, "startedAt": T0,
                                    "templateName": wf["spec"]["entrypoint"]}}
    for part_task, template in _parts(wf).items():
        nodes[f"{name}-{part_task}"] = {
            "id": f"{name}-{part_task}", "name": f"{name}.{part_task}",
            "displayName": part_task, "type": "DAG", "phase": phase, "boundaryID": name,
            "templateName": template, "startedAt": T0}
    for part, tasks in dags(wf):
        boundary = f"{name}-{part}" if part else name
        for task in tasks:
            if is_gate_task(task):
                sources = tuple(json.loads(task["arguments"]["parameters"][0]["value"])["after"])
                if gates is None and phase != "Running":
                    continue
                task_phase = (gates or {}).get(sources, "Running")
            elif task["name"] in phases:
                task_phase = phases[task["name"]]
            else:
                continue
            node_id = f"{boundary}-{task['name']}"
            node: Obj = {"id": node_id, "name": f"{name}.{part + '.' if part else ''}"
                         f"{task['name']}", "displayName": task["name"], "phase": task_phase,
                         "boundaryID": boundary, "templateName": task.get("template"),
                         "startedAt": T0, "type": "Pod"}
            if is_gate_task(task):
                node.update(type="Suspend", templateName=GATE_TEMPLATE,
                            inputs={"parameters": task["arguments"]["parameters"]})
            if task_phase not in ("Running", "Pending"):
                node["finishedAt"] = "2026-01-01T00:00:05Z"
            nodes[node_id] = node
    status: Obj = {"phase": phase, "startedAt": T0, "nodes": nodes}
    if finished:
        status["finishedAt"] = finished
    return {**wf, "spec": {**wf["spec"], **spec}, "status": status}


def holding(compiled: CompiledRun, step: str) -> int:
    """The index of the Workflow that holds a step."""
    for i, wf in enumerate(compiled.workflows):
        if step in {t["name"] for t in steps_of(wf)}:
            return i
    raise KeyError(step)
