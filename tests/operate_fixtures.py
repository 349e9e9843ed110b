"""200-step runs for the terminal views' golden files and tests: the Workflow the
real compiler emits, and a run status whose phases and reasons the contract's
function (`orchapi.semantics.evaluate`) decided, with every phase and every
step reason among the three scenarios:

- `running`: a resumed run in flight: Reused, Succeeded, Running, Pending,
  StepFailed, StepTimedOut, StepError, FailureIgnored, DependencyFailed, and a
  step Argo skipped (SkippedByArgo; only hand-made Workflows have a `when`).
- `cancelled`: cancelled while steps ran: Cancelled (Failed and Skipped) besides
  steps that had ended before.
- `ended`: the Workflow passed its deadline: WorkflowEnded (Failed and Skipped).
- `timed-out`: the run passed its own deadline (spec.policies.timeouts.totalSeconds):
  RunTimedOut (Failed and Skipped).

Deterministic (seeded, fixed clock), so the golden text never changes by itself.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from compiler.emit import EmitSettings, emit_workflow
from compiler.tools import Tool
from orchapi.api import STEP_KINDS_ANNOTATION, STEP_LABEL, Obj
from orchapi.graph import topological_order
from orchapi.models import Orchestration, OrchestrationRun
from orchapi.names import label_value
from orchapi.semantics import Observation, RunResult, Seen, evaluate
from orchapi.vocabulary import StepPhase

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
STARTED = NOW - timedelta(minutes=14, seconds=5)
NAMESPACE = "ml"
ORCHESTRATION = "nightly-train"
_AREAS = ["fetch", "clean", "embed", "train", "eval", "index", "report", "publish", "lint",
          "test", "shard", "merge", "tune", "score", "sync"]
_OBJECTS = ["corpus", "tokens", "vectors", "model", "metrics", "docs", "cache", "api",
            "schema", "bundle"]
_KINDS = ["Container", "Container", "Container", "AgentRun", "SubOrchestration",
          "Checkpoint", "Container", "ToolRun"]


def steps(n: int = 200, seed: int = 11) -> list[Obj]:
    """`n` steps with readable names in 20 lanes fanned out from the first step:
    each depends on the step before it in its lane and now and then on one of
    another lane; a mix of kinds; every 23rd step is best-effort
    (continueOnFailure), every 31st retries."""
    rng = random.Random(seed)
    out: list[Obj] = []
    for i in range(n):
        name = f"{_AREAS[i % len(_AREAS)]}-{_OBJECTS[(i * 7) % len(_OBJECTS)]}-{i:03d}"
        kind = _KINDS[rng.randrange(len(_KINDS))]
        step: Obj = {"name": name, "kind": kind}
        if kind == "Container":
            step.update(image="python:3.12", command=["python", "-m", "jobs", name])
        elif kind == "AgentRun":
            step.update(agentRef={"name": "codex"}, implementationSpecRef={"name": "impl"})
        elif kind == "SubOrchestration":
            step["orchestrationRef"] = {"name": "shard-pipeline"}
        elif kind == "ToolRun":
            step["toolRef"] = {"name": "indexer"}
        if i % 23 == 5:
            step["continueOnFailure"] = True
        if i % 31 == 7:
            step["retries"] = 2
        deps = {out[i - 20 if i > 20 else 0]["name"]} if i else set()
        if i > 40 and rng.random() < 0.2:
            deps.add(out[rng.randrange(i - 40, i - 20)]["name"])
        step["dependsOn"] = sorted(deps)
        out.append(step)
    return out


@dataclass(frozen=True)
class Fixture:
    run: Obj
    workflow: Obj
    objects: list[tuple[str, Obj]]  # (kind, metadata) of what resource steps created


def _compiled(run_name: str, all_steps: list[Obj]) -> tuple[Orchestration, Obj]:
    orch = Orchestration.model_validate({
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
        "metadata": {"name": ORCHESTRATION, "namespace": NAMESPACE, "generation": 4},
        "spec": {"steps": all_steps}})
    run = OrchestrationRun.model_validate({
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
        "metadata": {"name": run_name, "namespace": NAMESPACE},
        "spec": {"orchestrationRef": {"name": ORCHESTRATION}}})
    tool = Tool.model_validate({"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
                                "metadata": {"name": "indexer", "namespace": NAMESPACE},
                                "spec": {"image": "python:3.12", "command": ["index"]}})
    compiled = emit_workflow(orch, run, settings=EmitSettings(tools={"indexer": tool}))
    wf = compiled.workflow
    wf["metadata"]["namespace"] = NAMESPACE
    wf["metadata"]["annotations"] = {STEP_KINDS_ANNOTATION: __import__("json").dumps(
        {n.name: n.kind for n in compiled.graph.nodes}, separators=(",", ":"))}
    return orch, wf


def refused(n: int = 200) -> tuple[Obj, Obj]:
    """A run the controller refused before submission (a ToolRun step's Tool is not
    in the namespace): its Orchestration, and the run with every step resolved
    `Skipped`/`NotSubmitted`, as `controller.decide` writes it."""
    from controller.mirror import refused_statuses
    from orchapi.graph import build_graph

    orch_obj: Obj = {"apiVersion": "orchestration.proompteng.ai/v1alpha1",
                     "kind": "Orchestration",
                     "metadata": {"name": ORCHESTRATION, "namespace": NAMESPACE,
                                  "generation": 4},
                     "spec": {"steps": steps(n)}}
    graph = build_graph(Orchestration.model_validate(orch_obj).spec.steps)
    statuses = refused_statuses(graph, "ToolNotFound")
    message = ('spec.steps[7].toolRef.name: Tool "indexer" is not in namespace "ml" (create '
               'the Tool (tools.proompteng.ai/v1alpha1) in namespace "ml", or fix the '
               "step's toolRef)")
    run = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
           "metadata": {"name": "nightly-train-x9", "namespace": NAMESPACE,
                        "creationTimestamp": _stamp(NOW - timedelta(seconds=42))},
           "spec": {"orchestrationRef": {"name": ORCHESTRATION}},
           "status": {"observedGeneration": 1, "phase": "Failed",
                      "progress": f"{len(statuses)}/{len(statuses)}",
                      "finishedAt": _stamp(NOW - timedelta(seconds=41)),
                      "stepStatuses": statuses,
                      "conditions": [
                          {"type": "Submitted", "status": "False", "reason": "ToolNotFound",
                           "message": message},
                          {"type": "Succeeded", "status": "False", "reason": "ToolNotFound",
                           "message": "nothing was submitted"}]}}
    return orch_obj, run


def scenario(which: str, n: int = 200) -> Fixture:
    all_steps = steps(n)
    run_name = {"running": "nightly-train-r2", "cancelled": "nightly-train-c7",
                "ended": "nightly-train-d3", "timed-out": "nightly-train-t5"}[which]
    orch, wf = _compiled(run_name, all_steps)
    from orchapi.graph import build_graph

    graph = build_graph(orch.spec.steps)
    order = topological_order(graph)
    rng = random.Random(which)
    known: dict[str, Observation] = {}
    reused: set[str] = set()
    cut = int(len(order) * (0.45 if which == "running" else 0.35))
    for name in order[:cut]:
        known[name] = Observation(Seen.SUCCEEDED)
    # Failures of every kind among the ended steps; their dependents are skipped by §3.
    # ... on steps whose failure skips a few others (not half the graph).
    small = [n for n in order[5:cut] if 0 < len(_downstream(graph, n)) <= 8]
    picks = rng.sample(small, 6)
    for name, state in zip(picks, (Seen.FAILED, Seen.TIMED_OUT, Seen.ERRORED,
                                   Seen.FAILED, Seen.FAILED, Seen.FAILED),
                           strict=True):
        known[name] = Observation(state, {
            Seen.FAILED: "main: Error (exit code 1)",
            Seen.TIMED_OUT: "Step exceeded its deadline",
            Seen.ERRORED: "pod deleted"}[state])
    best_effort = [s["name"] for s in all_steps if s.get("continueOnFailure")
                   and s["name"] in order[:cut]]
    for name in best_effort[:2]:
        known[name] = Observation(Seen.FAILED, "main: Error (exit code 2)")
    # What depends on a real failure never ran: §3 decides it, not the fixture.
    blocked = [p for p in picks if p not in best_effort[:2]]
    while blocked:
        for child in graph.dependents[blocked.pop()]:
            if child in known and child not in picks:
                del known[child]
                blocked.append(child)
    if which == "running":  # a resumed run: its first steps reused (compiler.resume)
        reused = {name for name in order[:cut // 3] if known[name].state is Seen.SUCCEEDED}
        known.update({n: Observation(Seen.REUSED, 'reused from run "nightly-train-r1"')
                      for n in reused})
        # A step Argo skipped (a `when` of a hand-made Workflow): its dependents run.
        known[order[cut // 2]] = Observation(Seen.SKIPPED, "when 'false' evaluated false")
    first = evaluate(graph, known)
    for name in [s.name for s in first.steps if s.runnable][:9]:
        known[name] = Observation(Seen.RUNNING)
    result = evaluate(graph, known, workflow_ended=which == "ended",
                      cancelled=which == "cancelled", timed_out=which == "timed-out")
    by_name = {s["name"]: s for s in all_steps}
    statuses = _statuses(result, graph, order, which, reused, by_name)
    run = _run(run_name, result, statuses, wf, which)
    objects = _created(result, graph, wf, by_name, reused)
    return Fixture(run, wf, objects)


def _downstream(graph: Any, name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        for child in graph.dependents[todo.pop()]:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def attempts(step: Obj, phase: str) -> int:
    """Attempts of a step with `retries`: all of them when it failed, two when it
    succeeded on its second; one otherwise."""
    retries = int(step.get("retries") or 0)
    if not retries or phase not in (StepPhase.SUCCEEDED, StepPhase.FAILED):
        return 1
    return retries + 1 if phase == StepPhase.FAILED else 2


def _statuses(result: RunResult, graph: Any, order: list[str], which: str,
              reused: set[str], by_name: Mapping[str, Obj]) -> list[Obj]:
    rank = {name: i for i, name in enumerate(order)}
    out = []
    for step in result.steps:
        node = graph.by_name[step.name]
        phase, reason, message = str(step.phase), step.reason, step.message
        ran = step.phase not in (StepPhase.PENDING, StepPhase.SKIPPED)
        status: Obj = {"name": step.name, "kind": node.kind, "phase": str(phase)}
        if reason is not None:
            status["reason"] = str(reason)
        status["message"] = message
        began = STARTED + timedelta(seconds=4 * rank[step.name])
        if ran:
            status["startedAt"] = _stamp(began)
            if phase in (StepPhase.SUCCEEDED, StepPhase.FAILED):
                took = 2 + (rank[step.name] * 37) % 170
                status["finishedAt"] = _stamp(min(began + timedelta(seconds=took), NOW))
            status["attempt"] = attempts(by_name[step.name], phase)
        out.append(status)
    return out


def _run(name: str, result: RunResult, statuses: list[Obj], wf: Obj, which: str) -> Obj:
    done = sum(s["phase"] in ("Succeeded", "Failed", "Skipped") for s in statuses)
    condition = result.conditions[0]
    status: Obj = {
        "observedGeneration": 1, "orchestrationGeneration": 4,
        "phase": str(result.phase),
        "progress": f"{done}/{len(statuses)}", "startedAt": _stamp(STARTED),
        "workflowRef": {"name": wf["metadata"]["name"], "namespace": NAMESPACE,
                        "uid": "8d1c1a7e-0000-4000-8000-000000000001"},
        "stepStatuses": statuses,
        "conditions": [
            {"type": "Submitted", "status": "True", "reason": "WorkflowCreated",
             "message": "the Workflow exists"},
            {"type": "Succeeded", "status": str(condition.status),
             "reason": str(condition.reason), "message": condition.message}],
    }
    if which != "running":
        status["finishedAt"] = _stamp(NOW - timedelta(seconds=40))
    spec: Obj = {"orchestrationRef": {"name": ORCHESTRATION}}
    if which == "running":
        spec["resumeFrom"] = {"name": "nightly-train-r1"}
    if which == "cancelled":
        spec["cancel"] = True
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
            "metadata": {"name": name, "namespace": NAMESPACE,
                         "creationTimestamp": _stamp(STARTED - timedelta(seconds=2))},
            "spec": spec, "status": status}


def _created(result: RunResult, graph: Any, wf: Obj, by_name: Mapping[str, Obj],
             reused: set[str]) -> list[tuple[str, Obj]]:
    """Argo's Pod nodes (a Retry node and its attempts for a retried step) in the
    Workflow's status, as Argo writes them, and the objects resource steps created
    (metadata, as a metadata-only list returns them)."""
    workflow = wf["metadata"]["name"]
    templates = {t["name"]: t.get("template") for t in wf["spec"]["templates"][0]["dag"]["tasks"]}
    nodes: dict[str, Obj] = {}
    objects: list[tuple[str, Obj]] = []
    kinds = {"AgentRun": "AgentRun", "SubOrchestration": "OrchestrationRun"}
    for i, step in enumerate(result.steps):
        node = graph.by_name[step.name]
        if step.phase in (StepPhase.PENDING, StepPhase.SKIPPED) or node.kind == "Checkpoint" \
                or step.name in reused:  # not run again: its record is the old run's
            continue
        stamp = _stamp(STARTED + timedelta(seconds=i))
        tries = attempts(by_name[step.name], str(step.phase))
        names = [f"{workflow}.{step.name}"] if tries == 1 else [
            f"{workflow}.{step.name}({a})" for a in range(tries)]
        for a, name in enumerate(names):
            node_id = f"{workflow}-{(i * 2654435761 + a) % 4294967296}"
            nodes[node_id] = {"id": node_id, "name": name, "type": "Pod",
                              "displayName": name.split(".", 1)[1],
                              "templateName": templates[step.name], "startedAt": stamp,
                              "boundaryID": workflow, "phase": str(step.phase)}
        if tries > 1:
            retry_id = f"{workflow}-{(i * 40503) % 4294967296}"
            nodes[retry_id] = {"id": retry_id, "name": f"{workflow}.{step.name}",
                               "type": "Retry", "displayName": step.name,
                               "boundaryID": workflow, "startedAt": stamp}
        if node.kind in kinds:
            obj = f"{workflow}-{step.name}-{(i * 40503) % 99991:05d}"
            objects.append((kinds[node.kind], {
                "name": obj, "creationTimestamp": stamp,
                "labels": {STEP_LABEL: label_value(step.name),
                           "workflows.argoproj.io/workflow": workflow}}))
    wf["status"] = {"phase": "Running", "nodes": nodes}
    wf["metadata"]["annotations"]["workflows.argoproj.io/pod-name-format"] = "v2"
    return objects


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def labels_of(workflow: Mapping[str, Any]) -> dict[str, str]:
    from operate.view import graph_of_workflow

    graph = graph_of_workflow(workflow)
    return {label_value(n): n for n in (graph.names if graph else ())}
