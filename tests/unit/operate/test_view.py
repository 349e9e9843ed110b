"""The run view: DAG order from the Workflow (else the Orchestration of the same
generation, else the run's list), the dependency a skipped step waited on, and
which pod or object each step created."""

from __future__ import annotations

from typing import Any

from compiler.api import STEP_LABEL
from operate.view import build_view, created_by_step, graph_of_orchestration

Obj = dict[str, Any]


def workflow(tasks: list[Obj], name: str = "wf") -> Obj:
    return {"metadata": {"name": name, "annotations": {
                "orchestration.proompteng.ai/step-kinds": '{"z":"Container","a":"AgentRun"}'}},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "dag": {"tasks": tasks}}, {"name": "other"}]}}


def run(statuses: list[Obj], generation: int | None = 2) -> Obj:
    status: Obj = {"phase": "Failed", "stepStatuses": statuses}
    if generation is not None:
        status["orchestrationGeneration"] = generation
    return {"metadata": {"name": "r", "namespace": "ns"},
            "spec": {"orchestrationRef": {"name": "o"}}, "status": status}


def st(name: str, phase: str, reason: str | None = None) -> Obj:
    out: Obj = {"name": name, "kind": "Container", "phase": phase}
    if reason:
        out["reason"] = reason
    return out


#  z is declared first but depends on a; b and c both fail, d waits on [c, b]
#  a -> z ; a -> b ; a -> c ; (c, b) -> d ; d -> e
TASKS: list[Obj] = [{"name": "z", "dependencies": ["a"]}, {"name": "a"},
         {"name": "b", "dependencies": ["a"]}, {"name": "c", "dependencies": ["a"]},
         {"name": "d", "dependencies": ["c", "b"]}, {"name": "e", "dependencies": ["d"]}]
STATUSES = [st("z", "Succeeded"), st("a", "Succeeded"), st("b", "Failed", "StepFailed"),
            st("c", "Failed", "FailureIgnored"), st("d", "Skipped", "DependencyFailed"),
            st("e", "Skipped", "DependencyFailed")]


def test_steps_in_dag_order_with_the_dependency_each_skipped_step_waited_on() -> None:
    view = build_view(run(STATUSES), workflow(TASKS))
    assert [s.name for s in view.steps] == ["a", "z", "b", "c", "d", "e"]
    by = view.by_name
    # c's failure is ignored (continueOnFailure): d waited on b, e on d.
    assert (by["d"].waited_on, by["e"].waited_on) == ("b", "d")
    assert by["z"].kind == "Container" and by["z"].depends_on == ("a",)


def test_a_dependency_stopped_by_the_workflow_ending_or_a_cancel_is_not_blamed() -> None:
    statuses = [st("a", "Succeeded"), st("z", "Succeeded"),
                st("b", "Skipped", "Cancelled"), st("c", "Failed", "StepFailed"),
                st("d", "Skipped", "DependencyFailed"), st("e", "Skipped", "Cancelled")]
    view = build_view(run(statuses), workflow(TASKS))
    assert view.by_name["d"].waited_on == "c"


def test_without_a_workflow_the_orchestration_of_the_same_generation_gives_the_graph() -> None:
    orch = {"metadata": {"name": "o", "generation": 2}, "spec": {"steps": [
        {"name": "b", "kind": "Container"}, {"name": "a", "kind": "Container"}]}}
    view = build_view(run([], generation=None), None, orch)
    assert [(s.name, s.phase, s.depends_on) for s in view.steps] == [
        ("b", "Pending", ()), ("a", "Pending", ("b",))]  # sequential: no dependsOn anywhere
    changed = {**orch, "metadata": {"name": "o", "generation": 3}}
    stale = build_view(run([st("x", "Succeeded")], generation=2), None, changed)
    assert [s.name for s in stale.steps] == ["x"]
    assert stale.notes == ("the Orchestration is at generation 3; this run was compiled "
                           "from generation 2",)


def test_dag_mode_of_an_orchestration_follows_the_contract() -> None:
    graph = graph_of_orchestration({"spec": {"steps": [
        {"name": "a", "kind": "X"}, {"name": "b", "kind": "X", "dependsOn": []},
        {"name": "c", "kind": "X", "continueOnFailure": True}]}})
    assert [(n.name, n.dependencies) for n in graph.nodes] == [("a", ()), ("b", ()), ("c", ())]
    assert graph.by_name["c"].continue_on_failure


def test_created_objects_by_step_from_pods_and_labelled_objects() -> None:
    pods = [
        {"metadata": {"name": "wf-c-2", "creationTimestamp": "2026-01-01T00:00:02Z",
                      "annotations": {"workflows.argoproj.io/node-name": "wf.build(1)"}}},
        {"metadata": {"name": "wf-c-1", "creationTimestamp": "2026-01-01T00:00:01Z",
                      "annotations": {"workflows.argoproj.io/node-name": "wf.build(0)"}}},
        {"metadata": {"name": "wf-a-9", "creationTimestamp": "2026-01-01T00:00:01Z",
                      "annotations": {"workflows.argoproj.io/node-name": "wf.agent"}}},
        {"metadata": {"name": "other", "annotations": {
            "workflows.argoproj.io/node-name": "wf2.build"}}}]
    objects = [("AgentRun", {"name": "wf-agent-x", "creationTimestamp": "2026-01-01T00:00:03Z",
                             "labels": {STEP_LABEL: "agent",
                                        "workflows.argoproj.io/workflow": "wf"}}),
               ("AgentRun", {"name": "foreign", "labels": {
                   STEP_LABEL: "agent", "workflows.argoproj.io/workflow": "other"}})]
    assert created_by_step("wf", pods, objects, {"agent": "agent", "build": "build"}) == {
        "build": ["pod/wf-c-1", "pod/wf-c-2"],
        "agent": ["pod/wf-a-9", "AgentRun/wf-agent-x"]}


def test_a_step_record_names_what_it_created_even_when_it_was_reused() -> None:
    status = {**st("a", "Succeeded", "Reused"), "resourceRef": {
        "kind": "AgentRun", "name": "old-run-a-1", "apiVersion": "agents.proompteng.ai/v1alpha1"}}
    view = build_view(run([status]))
    assert view.by_name["a"].created == ("AgentRun/old-run-a-1",)
