"""The final outcome task (argo-workflows#13498, compiler.outcome): where it is added,
its name, and Argo's limits. Its effect on Argo's phase is proven by the model in
test_semantics_properties.py and on the real Argo by tests/e2e/test_controller.py."""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Collector
from compiler.emit import emit_workflow
from compiler.outcome import OUTCOME_TEMPLATE, is_outcome_task
from compiler.validate import check_entrypoint
from orchapi.models import Orchestration
from orchapi.vocabulary import Reason


def compile_steps(steps: list[dict[str, Any]]) -> dict[str, Any]:
    out = Collector()
    workflow = emit_workflow(Orchestration.model_validate({
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
        "metadata": {"name": "o"}, "spec": {"steps": steps}}), out=out).workflow
    assert not [d for d in out.items if d.is_error]
    return workflow


def step(name: str, deps: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    out = {"name": name, "kind": "Checkpoint", **extra}
    if deps is not None:
        out["dependsOn"] = deps
    return out


def tasks_of(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = workflow["spec"]["templates"][0]["dag"]["tasks"]
    return tasks


def test_sequential_with_a_best_effort_last_step() -> None:
    # one -> two*     the last step is the only leaf
    tasks = tasks_of(compile_steps([step("one"), step("two", continueOnFailure=True)]))
    assert tasks[-1] == {"name": "orch-outcome", "template": OUTCOME_TEMPLATE,
                         "dependencies": ["two"]}


def test_depends_on_every_leaf_in_declaration_order() -> None:
    # a -> c*     leaves: c (best-effort), b, d
    # b
    # d
    tasks = tasks_of(compile_steps([step("a", []), step("b", []),
                                    step("c", ["a"], continueOnFailure=True), step("d", [])]))
    assert tasks[-1]["dependencies"] == ["b", "c", "d"]


def test_no_task_without_a_best_effort_leaf() -> None:
    # a* -> b     a best-effort step that is no leaf: Argo's phase is right as it is
    tasks = tasks_of(compile_steps([step("a", [], continueOnFailure=True), step("b", ["a"])]))
    assert not any(is_outcome_task(t) for t in tasks)


def test_a_step_with_the_tasks_name_keeps_it() -> None:
    workflow = compile_steps([step("orch-outcome", continueOnFailure=True)])
    tasks = tasks_of(workflow)
    assert [t["name"] for t in tasks] == ["orch-outcome", "orch-outcome-2"]
    assert [is_outcome_task(t) for t in tasks] == [False, True]
    assert tasks[0]["template"] == "no-op"
    assert [t["name"] for t in workflow["spec"]["templates"]] == ["main", "no-op",
                                                                 OUTCOME_TEMPLATE]


def test_no_room_at_argos_task_limit() -> None:
    # 200 steps is Argo's maximum of DAG tasks: the run carries ArgoPhaseAgrees instead
    steps = [step(f"s{i}", []) for i in range(199)] + [step("last", [], continueOnFailure=True)]
    assert len(tasks_of(compile_steps(steps))) == 200
    assert is_outcome_task(tasks_of(compile_steps(steps[1:]))[-1])


def test_the_entrypoint_cannot_take_the_templates_name() -> None:
    out = Collector()
    check_entrypoint({"entrypoint": OUTCOME_TEMPLATE}, out)
    assert [d.reason for d in out.items] == [Reason.ENTRYPOINT_MISSING]


def test_no_room_at_argos_template_limit() -> None:
    # 199 distinct step templates + the entry DAG: a 201st template would be refused
    steps: list[dict[str, Any]] = [
        {"name": f"s{i}", "kind": "Container", "image": f"img{i}", "dependsOn": []}
        for i in range(199)]
    steps[-1]["continueOnFailure"] = True
    workflow = compile_steps(steps)
    assert len(workflow["spec"]["templates"]) == 200
    assert not any(is_outcome_task(t) for t in tasks_of(workflow))
