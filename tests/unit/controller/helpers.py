"""Workflows as the real compiler emits them, with Argo-shaped node statuses
written by hand (the e2e tests check the same mirror against real Argo)."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import yaml

from compiler.emit import emit_workflow
from orchapi.api import STEP_KINDS_ANNOTATION, Obj
from orchapi.models import Orchestration, OrchestrationRun

WF = "run-1"


def orchestration(steps: list[Obj], name: str = "o") -> Orchestration:
    return Orchestration.model_validate({
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
        "metadata": {"name": name, "namespace": "ns"}, "spec": {"steps": steps}})


def container(name: str, deps: list[str] | None = None, **extra: Any) -> Obj:
    step: Obj = {"name": name, "kind": "Container", "image": "alpine", **extra}
    if deps is not None:
        step["dependsOn"] = deps
    return step


def compiled(steps: list[Obj]) -> Obj:
    """The Workflow for a run `run-1` of these steps, as the controller submits it."""
    run = OrchestrationRun.model_validate({
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
        "metadata": {"name": WF, "namespace": "ns"}, "spec": {"orchestrationRef": {"name": "o"}}})
    out = emit_workflow(orchestration(steps), run)
    wf = out.workflow
    wf["metadata"]["annotations"] = {
        STEP_KINDS_ANNOTATION: json.dumps({n.name: n.kind for n in out.graph.nodes})}
    wf["metadata"]["uid"] = "wf-uid"
    return wf


def node_id(name: str, boundary: str = WF) -> str:
    return f"{WF}-{abs(hash((name, boundary))) % 10**10}"


def node(name: str, phase: str, *, message: str | None = None, type_: str = "Pod",
         boundary: str = WF, children: list[str] | None = None,
         finished: str = "2026-01-01T00:00:05Z", retried: bool = False) -> Obj:
    """One Argo node; `retried` marks an attempt of a Retry node (`nodeFlag.retried`,
    as Argo sets it on the children it counts as attempts)."""
    n: Obj = {"id": node_id(name, boundary), "name": f"{WF}.{name}",
              "displayName": name, "type": type_, "phase": phase, "boundaryID": boundary,
              "templateName": "c", "startedAt": "2026-01-01T00:00:00Z"}
    if phase in ("Succeeded", "Failed", "Error", "Omitted", "Skipped"):
        n["finishedAt"] = finished
    if message:
        n["message"] = message
    if children is not None:
        n["children"] = children
    if retried:
        n["nodeFlag"] = {"retried": True}
    return n


def attempts(name: str, *phases: tuple[str, str]) -> list[Obj]:
    """A Retry node `name` (its phase and message: the first pair) and its attempts
    `name(0)`, `name(1)`, ... (the other pairs), linked as Argo links them."""
    (phase, message), tries = phases[0], phases[1:]
    kids = [node(f"{name}({i})", p, message=m, retried=True)
            for i, (p, m) in enumerate(tries)]
    retry = node(name, phase, message=message, type_="Retry",
                 children=[k["id"] for k in kids])
    return [retry, *kids]


def with_status(wf: Obj, phase: str, nodes: list[Obj], compress: bool = False, *,
                message: str | None = None, finished: str = "2026-01-01T00:01:00Z",
                **spec: Any) -> Obj:
    """`wf` with Argo's status: `phase`, `nodes` under the entry DAG node, Argo's
    `message`; `spec` adds Workflow spec fields (`shutdown`, `activeDeadlineSeconds`)."""
    root = {"id": WF, "name": WF, "displayName": WF, "type": "DAG", "phase": phase,
            "templateName": wf["spec"]["entrypoint"], "children": [n["id"] for n in nodes]}
    by_id = {WF: root, **{n["id"]: n for n in nodes}}
    status: Obj = {"phase": phase, "startedAt": "2026-01-01T00:00:00Z"}
    if phase in ("Succeeded", "Failed", "Error"):
        status["finishedAt"] = finished
    if message:
        status["message"] = message
    if compress:
        status["compressedNodes"] = base64.b64encode(
            gzip.compress(json.dumps(by_id).encode())).decode()
    else:
        status["nodes"] = by_id
    return {**wf, "spec": {**wf["spec"], **spec}, "status": status}


def dump(obj: Obj) -> str:
    return yaml.safe_dump(obj)
