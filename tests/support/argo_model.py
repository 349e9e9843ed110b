"""An independent model of how Argo evaluates the compiler's DAGs: which task
nodes get which phase, and the Workflow's own phase. The unit properties compare
it with `orchapi.semantics`; the e2e suite uses it to show that its random cases
include the graphs where Argo's phase would be wrong without the outcome task.

Why a model and the real Argo both: the model runs thousands of random graphs in
seconds; the real Argo (tests/e2e/test_controller.py) proves the model's premises.
"""

from __future__ import annotations

from collections import deque
from typing import Any

# The model
#
# Read from argoproj/argo-workflows (v4 line):
# - workflow/common/ancestry.go, getTaskDependsLogic/expandDependency: for
#   `dependencies: [A]` the task's logic is `(A.Succeeded || A.Skipped || A.Daemoned)`,
#   plus `|| A.Failed` when A has `continueOn.failed` and `|| A.Errored` when A has
#   `continueOn.error`; several dependencies are joined with `&&`.
# - workflow/controller/dag.go, evaluateDependsLogic: a task proceeds only when every
#   dependency's node is Fulfilled (Omitted counts); `Skipped` is true only for phase
#   Skipped, `Omitted` for phase Omitted, `Failed` for Failed and `Errored` for Error,
#   so an Omitted dependency satisfies nothing.
# - dag.go, executeDAGTask: when the logic is false the task's node is created with
#   phase Omitted ("omitted: depends condition not met"), which cascades.
# - dag.go, assessDAGPhase (v4.0.5 l.134, v3.6.18 l.131, identical): with
#   `failFast: false` every branch runs to its end; the DAG's phase is read from its
#   target tasks, the leaves (dag.go findLeafTaskNames, sorted by name), by a
#   breadth-first walk from the roots over the nodes' `children` (a task's node is a
#   child of each dependency's node, dag.go connectDependencies) carrying a branch
#   phase: a completed node (Succeeded, Failed, Error) sets it, an omitted one
#   inherits it, Failed/Error win over Succeeded at a target; a target whose
#   `continueOn` covers its phase does not count. operator.go (v4.0.5 l.396) maps the
#   DAG's phase to the Workflow's: Succeeded/Skipped/Omitted -> Succeeded.
#   The contract computes the run's phase from the steps; the compiler's final
#   outcome task (compiler.outcome) makes Argo's phase the same (#13498).
#
# The model re-reads the compiled task list the way Argo's operator re-reconciles:
# passes over all tasks until nothing changes, no topological order.


def argo_phases(workflow: dict[str, Any], failing: frozenset[str],
                erroring: frozenset[str]) -> dict[str, str]:
    entry = workflow["spec"]["entrypoint"]
    (template,) = [t for t in workflow["spec"]["templates"] if t["name"] == entry]
    assert template["dag"]["failFast"] is False
    tasks = template["dag"]["tasks"]
    by_name = {t["name"]: t for t in tasks}
    for task in tasks:
        assert "depends" not in task, "the model reads `dependencies` only"

    def satisfied(dep: str, phases: dict[str, str]) -> bool:
        continue_on = by_name[dep].get("continueOn", {})
        phase = phases[dep]
        return (phase in {"Succeeded", "Skipped", "Daemoned"}
                or (phase == "Failed" and continue_on.get("failed", False))
                or (phase == "Error" and continue_on.get("error", False)))

    phases: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for task in tasks:
            name, deps = task["name"], task.get("dependencies", [])
            if name in phases or any(d not in phases for d in deps):
                continue  # already has a node, or not every dependency is fulfilled
            if all(satisfied(d, phases) for d in deps):
                phases[name] = ("Error" if name in erroring
                                else "Failed" if name in failing else "Succeeded")
            else:
                phases[name] = "Omitted"
            changed = True
    assert set(phases) == set(by_name), "every task gets a node"
    return phases


def argo_workflow_phase(workflow: dict[str, Any], phases: dict[str, str]) -> str:
    """Argo's Workflow phase for the task phases `argo_phases` gave (no shutdown)."""
    entry = workflow["spec"]["entrypoint"]
    (template,) = [t for t in workflow["spec"]["templates"] if t["name"] == entry]
    tasks = template["dag"]["tasks"]
    by_name = {t["name"]: t for t in tasks}
    children: dict[str, list[str]] = {t["name"]: [] for t in tasks}
    roots = []
    for task in tasks:
        for dep in task.get("dependencies", []):
            children[dep].append(task["name"])
        if not task.get("dependencies"):
            roots.append(task["name"])
    leaves = sorted(n for n, c in children.items() if not c)
    target: dict[str, str] = dict.fromkeys(leaves, "")
    queue = deque((r, "Succeeded") for r in roots)
    seen = set(queue)
    while queue:
        name, branch = queue.popleft()
        if phases[name] in ("Succeeded", "Failed", "Error"):  # NodePhase.Completed
            branch = phases[name]
        if name in target and target[name] not in ("Failed", "Error"):
            target[name] = branch
        for child in children[name]:
            if (child, branch) not in seen:
                seen.add((child, branch))
                queue.append((child, branch))
    result = "Succeeded"
    for leaf in leaves:
        phase = target[leaf]
        continue_on = by_name[leaf].get("continueOn", {})
        if phase in ("Failed", "Error") and not continue_on.get(phase.lower()):
            result = phase
    return result


