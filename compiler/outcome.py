"""A final no-op task that makes Argo's own Workflow phase the run's phase
(contract §3; argo-workflows#13498).

Why: Argo decides a DAG's phase from its leaf tasks alone (dag.go assessDAGPhase,
v4.0.5 l.134, v3.6.18 l.131, the same in both): an omitted leaf takes the phase
of the branch that omitted it, and a leaf whose `continueOn` covers that phase is
not counted. So when every leaf below a step that failed for real has
`continueOn.failed`, Argo reports the Workflow `Succeeded` while the run failed.
A no-op task depending on every leaf fixes that: Argo expands its plain
`dependencies` to "each leaf Succeeded, Skipped or Daemoned (or Failed, for a leaf
with continueOn.failed)", so it runs exactly when every leaf ended that way; then it
is the only leaf and has no `continueOn`, so Argo's DAG phase is `Succeeded` when it
ran and the phase of a failed branch when it was omitted: what §3 says.

Without a best-effort leaf no step's failure can be absorbed (every real failure
reaches a leaf that counts it), so the task is added only when some leaf has
`continueOnFailure`, and goldens and Workflows of other graphs do not change. It
cannot be added when the run already has Argo's maximum of 200 tasks; there, and
wherever else the phases differ, the run's `ArgoPhaseAgrees` condition says so.

The task is told apart from the steps by its template, whose name no step template
and no entrypoint can take (`compiler.kinds.RESERVED_TEMPLATE_NAMES`); its own name is the first of
`orch-outcome`, `orch-outcome-2`, ... that no step has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchapi.graph import Graph

OUTCOME_TEMPLATE = "orch-outcome"
OUTCOME_TASK = "orch-outcome"
MAX_TASKS = 200  # Argo's CRD: spec.templates[].dag.tasks maxItems 200 (v4.1.2)
# A zero-length suspend: no pod, no image, succeeds at once (operator.go
# executeSuspend, v4.0.5 l.3784), as the Checkpoint kind's no-op does.
TEMPLATE: dict[str, Any] = {"suspend": {"duration": "0"}}


def leaves(graph: Graph) -> list[str]:
    """Steps no other step depends on, in declaration order (Argo's default target)."""
    depended = {d for n in graph.nodes for d in n.dependencies}
    return [n.name for n in graph.nodes if n.name not in depended]


def needs_outcome_task(graph: Graph) -> bool:
    """Argo's phase could differ from the run's: some leaf is best-effort."""
    names = set(leaves(graph))
    return any(n.continue_on_failure for n in graph.nodes if n.name in names)


def outcome_task(graph: Graph) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The final task and its template, or None when not needed or when Argo's
    task limit leaves no room."""
    if not needs_outcome_task(graph) or len(graph.nodes) >= MAX_TASKS:
        return None
    taken = set(graph.names)
    name, n = OUTCOME_TASK, 1
    while name in taken:
        n += 1
        name = f"{OUTCOME_TASK}-{n}"
    task = {"name": name, "template": OUTCOME_TEMPLATE, "dependencies": leaves(graph)}
    return task, {"suspend": dict(TEMPLATE["suspend"])}


def is_outcome_task(task: Mapping[str, Any]) -> bool:
    return task.get("template") == OUTCOME_TEMPLATE
