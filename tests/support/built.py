"""What a compiled Workflow makes of each step, read back from the Workflow: the
object a resource step creates (as Argo's executor parses it out of the
manifest), a wait's decoded `wait` input, a container step's container."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from compiler.diagnostics import Collector, Diagnostic
from compiler.emit import EmitSettings, emit_workflow
from compiler.inputs import pair_runs, parse_text
from compiler.kinds.wait import WAIT_PARAM, WaitSpec, decode_wait

API = "orchestration.proompteng.ai/v1alpha1"


@dataclass
class Built:
    diagnostics: list[Diagnostic]
    workflow: dict[str, Any] | None
    objects: dict[str, Any]  # step name -> what it builds

    @property
    def problems(self) -> list[tuple[str, str, str]]:
        """(reason, path, severity) of every diagnostic."""
        return [(str(d.reason), str(d.path), str(d.severity)) for d in self.diagnostics]


def documents(steps: list[dict[str, Any]], parameters: dict[str, str] | None = None,
              tools: Sequence[dict[str, Any]] = (), name: str = "o") -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [{"apiVersion": API, "kind": "Orchestration",
                                   "metadata": {"name": name, "namespace": "ns"},
                                   "spec": {"steps": steps}}]
    if parameters is not None:
        docs.append({"apiVersion": API, "kind": "OrchestrationRun",
                     "metadata": {"name": f"{name}-run", "namespace": "ns"},
                     "spec": {"orchestrationRef": {"name": name}, "parameters": parameters}})
    return docs + list(tools)


def build(docs: list[dict[str, Any]], strict: bool = False) -> Built:
    """Compile the documents (JSON, so every value is exactly as given); the first
    Workflow and what its steps build."""
    text = "\n---\n".join(json.dumps(d) for d in docs)
    inputs = parse_text(text, "<test>", strict=strict)
    diagnostics = list(inputs.diagnostics)
    workflow = None
    for _, orch, run in pair_runs(inputs)[:1]:
        out = Collector()
        namespace = (run.metadata.namespace if run else None) or orch.metadata.namespace
        # Without Tools in the input, ToolRun steps are judged later, as for an
        # Orchestration compiled on its own.
        tools = inputs.tools_in(namespace) if inputs.tools else None
        compiled = emit_workflow(orch, run, out, settings=EmitSettings(tools=tools))
        diagnostics += out.items
        workflow = compiled.workflow
    return Built(diagnostics, workflow, objects_of(workflow) if workflow else {})


def objects_of(workflow: dict[str, Any]) -> dict[str, Any]:
    templates = {t["name"]: t for t in workflow["spec"]["templates"]}
    out: dict[str, Any] = {}
    for task in workflow["spec"]["templates"][0]["dag"]["tasks"]:
        params = {p["name"]: p.get("value") for p in
                  (task.get("arguments") or {}).get("parameters") or ()}
        template = templates.get(task.get("template", ""), {})
        if "spec" in params:  # a resource step: its object, as the executor reads it
            out[task["name"]] = yaml.safe_load(params["spec"])
        elif WAIT_PARAM in params:
            wait: WaitSpec | None = decode_wait(params[WAIT_PARAM])
            out[task["name"]] = wait
        elif "container" in template:
            out[task["name"]] = template["container"]
    return out
