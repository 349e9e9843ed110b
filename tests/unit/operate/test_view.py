"""The run view: DAG order from the Workflow (else the Orchestration of the same
generation, else the run's list), the dependency a skipped step waited on, and
which pod or object each step created."""

from __future__ import annotations

from compiler.compiled import graph_from_orchestration as graph_of_orchestration
from operate.view import build_view, created_by_step
from orchapi.api import STEP_LABEL, Obj


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


def test_pods_are_named_from_the_workflows_nodes_as_argo_names_them() -> None:
    """Pod names as the real Argo made them in the test cluster: the `diamond-zw529`
    run's step `a` ran in pod `diamond-zw529-container-a-1204782924`."""
    wf: Obj = {"metadata": {"name": "diamond-zw529", "annotations": {
                   "workflows.argoproj.io/pod-name-format": "v2"}},
               "status": {"nodes": {
        "n1": {"id": "n1", "name": "diamond-zw529.a", "type": "Pod",
               "templateName": "container-a", "startedAt": "2026-01-01T00:00:01Z"},
        "n2": {"id": "n2", "name": "diamond-zw529.b", "type": "Retry"},
        "n3": {"id": "n3", "name": "diamond-zw529.b(0)", "type": "Pod",
               "templateName": "container-b", "startedAt": "2026-01-01T00:00:02Z"},
        "n4": {"id": "n4", "name": "diamond-zw529.b(1)", "type": "Pod",
               "templateName": "container-b", "startedAt": "2026-01-01T00:00:03Z"},
        "n5": {"id": "n5", "name": "diamond-zw529.t.inner", "type": "Pod",
               "templateRef": {"name": "wt", "template": "inner"}},
        "n6": {"id": "n6", "name": "diamond-zw529.orch-outcome", "type": "Suspend"}}}}
    objects = [("AgentRun", {"name": "diamond-zw529-c-x", "labels": {
                    STEP_LABEL: "c", "workflows.argoproj.io/workflow": "diamond-zw529"}}),
               ("AgentRun", {"name": "foreign", "labels": {
                   STEP_LABEL: "c", "workflows.argoproj.io/workflow": "other"}})]
    assert created_by_step(wf, objects, {"c": "c"}) == {
        "a": ["pod/diamond-zw529-container-a-1204782924"],
        "b": ["pod/diamond-zw529-container-b-" + str(fnv("diamond-zw529.b(0)")),
              "pod/diamond-zw529-container-b-" + str(fnv("diamond-zw529.b(1)"))],
        "t": ["pod/diamond-zw529-inner-" + str(fnv("diamond-zw529.t.inner"))],
        "c": ["AgentRun/diamond-zw529-c-x"]}
    v1 = {**wf, "metadata": {"name": "diamond-zw529", "annotations": {
        "workflows.argoproj.io/pod-name-format": "v1"}}}
    assert created_by_step(v1)["a"] == ["pod/n1"]  # POD_NAMES=v1: the node id


def fnv(text: str) -> int:
    digest = 2166136261
    for byte in text.encode():
        digest = ((digest ^ byte) * 16777619) % 2**32
    return digest


def test_a_step_record_names_what_it_created_even_when_it_was_reused() -> None:
    status = {**st("a", "Succeeded", "Reused"), "resourceRef": {
        "kind": "AgentRun", "name": "old-run-a-1", "apiVersion": "agents.proompteng.ai/v1alpha1"}}
    view = build_view(run([status]))
    assert view.by_name["a"].created == ("AgentRun/old-run-a-1",)


def test_a_split_run_shows_every_step_though_its_status_lists_only_some() -> None:
    """Contract §8: past its budget a run's status lists only the steps that have
    not succeeded; `orch get` reads the rest from the run's Workflows."""
    from tests.unit.controller.split_helpers import split_run, with_nodes

    split = split_run()
    wf1, wf2, wf3 = split.workflows
    workflows = [with_nodes(wf1, {"a": "Succeeded", "b": "Failed", "f": "Succeeded",
                                  "g": "Succeeded"}),
                 with_nodes(wf2, {"c": "Omitted", "h": "Running"}), with_nodes(wf3, {})]
    status: Obj = {"phase": "Running", "progress": "5/8",
                   "workflows": [{"name": w["metadata"]["name"]} for w in split.workflows],
                   "stepStatuses": [st("b", "Failed", "StepFailed"),
                                    st("c", "Skipped", "DependencyFailed"),
                                    st("d", "Skipped", "DependencyFailed"),
                                    st("e", "Skipped", "DependencyFailed"),
                                    st("h", "Running")],
                   "stepCounts": [{"phase": "Running", "count": 1},
                                  {"phase": "Succeeded", "count": 3},
                                  {"phase": "Failed", "reason": "StepFailed", "count": 1},
                                  {"phase": "Skipped", "reason": "DependencyFailed",
                                   "count": 3}]}
    r = {"metadata": {"name": "run-1", "namespace": "ns"},
         "spec": {"orchestrationRef": {"name": "o"}}, "status": status}
    view = build_view(r, workflows=workflows)
    assert sorted(s.name for s in view.steps) == list("abcdefgh")
    by = view.by_name
    assert [by[n].phase for n in "afg"] == ["Succeeded"] * 3
    assert by["a"].started_at is not None and by["a"].finished_at is not None
    assert (by["c"].phase, by["c"].waited_on) == ("Skipped", "b")
    assert by["g"].depends_on == ("a", "f")  # across parts: the gate's sources
    # Without the Workflows (deleted), what the counts prove is still shown.
    view = build_view(r)
    assert {s.name for s in view.steps} == {"b", "c", "d", "e", "h"}


def test_the_pods_of_a_split_runs_steps_are_named_from_their_part_dags() -> None:
    """A step of a Workflow of several parts is the node `WF.part-N.STEP`: its pod
    is the step's (by displayName), not the part's."""
    from tests.unit.controller.split_helpers import split_run, with_nodes

    wf = with_nodes(split_run().workflows[0], {"a": "Succeeded", "f": "Failed"})
    created = created_by_step(wf, split=True)
    assert sorted(created) == ["a", "f"]
    assert all(len(pods) == 1 and pods[0].startswith("pod/run-1-1-")
               for pods in created.values())
