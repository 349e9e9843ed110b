"""Gates: how an edge between two parts of a split run (`compiler.partition`) is
honoured exactly (contract §8), written by the compiler and decided for the
controller.

A gate is a task in the dependent's part whose template is a `suspend` node with
no duration: it waits, costs no pod, and the controller sets its phase as `argo
node set` does (as it releases ApprovalGate and SignalWait steps, `controller.
suspend`). It lists its sources, the steps outside the part that its targets
depend on, in the one input parameter `gate` (JSON `{"after": [...]}`; Argo copies
a suspend node's resolved inputs into the node, so the controller reads a gate's
sources from the node as it reads a wait's). Step names are Argo task names
(letters, digits, `-`), so the JSON holds no `{{` for Argo to expand.

Why the release rule is exact: a target's `dependencies` name the gate with no
`continueOn`, so Argo (ancestry.go expandDependency, v4.0.5 l.124-137) runs the
target iff the gate `Succeeded` and omits it iff the gate `Failed`, just as it
would run or omit it on the sources themselves had they stood in its DAG: the
gate passes exactly when every source has ended in a way that lets its dependents
run (`StepResult.satisfies_dependents`: `Succeeded`, or `Failed` with
`continueOnFailure`), and fails as soon as one source ended in a way that blocks
them (`blocks_dependents`: a failure not ignored, `StepError` even when
best-effort, `Skipped`), which makes the target `Omitted`, mirrored as `Skipped`,
`DependencyFailed` (§5), transitively. A gate never passes before all of its
sources have ended, so no step starts before its own dependencies end.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchapi.argo import ArgoPhase
from orchapi.vocabulary import StepReason

if TYPE_CHECKING:  # the compile path emits gates and never decides them
    from orchapi.semantics import StepResult

GATE_TEMPLATE = "orch-gate"
GATE_TASK = "orch-gate"  # task names: orch-gate-1, orch-gate-2, ... within a part
GATE_PARAM = "gate"
TEMPLATE: dict[str, Any] = {"inputs": {"parameters": [{"name": GATE_PARAM}]}, "suspend": {}}
# Reasons of sources that the run's own end (a cancel, the Workflow stopped) decided:
# no gate is released for them; stopping the run ends the gates too.
_ENDED_BY_THE_RUN = frozenset({StepReason.CANCELLED, StepReason.WORKFLOW_ENDED})


def encode_sources(sources: Sequence[str]) -> str:
    """The `gate` parameter's value."""
    return json.dumps({"after": list(sources)}, separators=(",", ":"))


def decode_sources(text: Any) -> tuple[str, ...] | None:
    """The sources a `gate` parameter names; None when it is not one of ours."""
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    after = data.get("after") if isinstance(data, dict) else None
    if not isinstance(after, list) or not after or \
            not all(isinstance(s, str) and s for s in after):
        return None
    return tuple(after)


def gate_task(name: str, sources: Sequence[str]) -> dict[str, Any]:
    return {"name": name, "template": GATE_TEMPLATE,
            "arguments": {"parameters": [{"name": GATE_PARAM, "value": encode_sources(sources)}]}}


def is_gate_task(task: Mapping[str, Any]) -> bool:
    return task.get("template") == GATE_TEMPLATE


def sources_of_task(task: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The sources of a gate task (its argument)."""
    for param in (task.get("arguments") or {}).get("parameters") or ():
        if isinstance(param, Mapping) and param.get("name") == GATE_PARAM:
            return decode_sources(param.get("value"))
    return None


def sources_of_node(node: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The sources of a gate's Argo node (its resolved inputs), if it is a gate."""
    if node.get("templateName") != GATE_TEMPLATE:
        return None
    for param in (node.get("inputs") or {}).get("parameters") or ():
        if isinstance(param, Mapping) and param.get("name") == GATE_PARAM:
            return decode_sources(param.get("value"))
    return None


@dataclass(frozen=True, slots=True)
class GateRelease:
    """The phase to set on a gate node (`argo node set` phases) and why."""

    phase: str
    message: str


def decide_gate(sources: Sequence[StepResult]) -> GateRelease | None:
    """What the controller does with a waiting gate, from its sources' results
    (`orchapi.semantics.evaluate` over the whole run): fail it once a source
    blocks its dependents, pass it once every source lets them run, else wait
    (None). A source the run's own end stopped releases nothing: stopping the run
    stops its Workflows, and Argo fails their waiting gates itself."""
    for source in sources:
        if source.reason in _ENDED_BY_THE_RUN:
            return None
    for source in sources:
        if source.blocks_dependents:
            verb = "was skipped" if source.reason is StepReason.DEPENDENCY_FAILED else (
                "errored" if source.reason is StepReason.STEP_ERROR else "failed")
            return GateRelease(ArgoPhase.FAILED, f'dependency "{source.name}" {verb}')
    if all(source.satisfies_dependents for source in sources):
        return GateRelease(ArgoPhase.SUCCEEDED, "dependencies ended: "
                           + ", ".join(s.name for s in sources[:5])
                           + (f" and {len(sources) - 5} more" if len(sources) > 5 else ""))
    return None
