"""Orchestration objects from the cluster -> Ready condition (contract §2.4)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.orchestrations import orchestration_status

NOW = "2026-01-01T00:00:00Z"


def cluster_object(steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
            "metadata": {"name": "o", "namespace": "ns", "generation": 2, "uid": "u",
                         "resourceVersion": "7", "managedFields": [{"manager": "kubectl"}],
                         "creationTimestamp": NOW},
            "spec": {"steps": steps}}


def test_valid() -> None:
    s = orchestration_status(cluster_object([{"name": "a", "kind": "Checkpoint"}]), NOW)
    assert s["phase"] == "Ready" and s["observedGeneration"] == 2
    assert [(c["type"], c["status"], c["reason"]) for c in s["conditions"]] == [
        ("Ready", "True", "Valid")]


def test_cycle_names_the_path_and_every_problem_is_listed() -> None:
    steps = [{"name": "a", "kind": "Checkpoint", "dependsOn": ["c"]},
             {"name": "b", "kind": "Checkpoint", "dependsOn": ["a"]},
             {"name": "c", "kind": "Checkpoint", "dependsOn": ["b"]},
             {"name": "d", "kind": "Checkpoint", "dependsOn": ["bb"]}]
    s = orchestration_status(cluster_object(steps), NOW)
    (ready,) = s["conditions"]
    assert s["phase"] == "Invalid"
    assert (ready["status"], ready["reason"]) == ("False", "DependencyCycle")
    assert ready["message"] == (
        "spec.steps[0].dependsOn[0]: dependency cycle: a -> c -> b -> a "
        "(each step depends on the next; break one edge); "
        'spec.steps[3].dependsOn[0]: step "bb" does not exist (did you mean "b"?)')


def test_a_problem_only_compiling_finds_is_listed_beside_another() -> None:
    """Contract §2: every problem at once. The Template step's retries (refused
    only when the step is compiled) are listed beside the missing dependency of
    another step, not after it is fixed (issue 21)."""
    steps: list[dict[str, Any]] = [
        {"name": "a", "kind": "Checkpoint", "dependsOn": ["nope"]},
        {"name": "t", "kind": "Template", "retries": 2,
         "templateRef": {"name": "shared", "template": "notify"}}]
    s = orchestration_status(cluster_object(steps), NOW)
    (ready,) = s["conditions"]
    assert (s["phase"], ready["reason"]) == ("Invalid", "MissingDependency")
    assert ready["message"].startswith('spec.steps[0].dependsOn[0]: step "nope" does not exist; '
                                       "spec.steps[1].retries: Argo takes retries of a "
                                       "Template step")


def test_the_controller_refuses_what_the_cli_refuses_in_user_names() -> None:
    """The controller runs the compiler's own checks (issue 9 §1): a name that
    would carry an expression to Argo makes the Orchestration Invalid."""
    steps: list[dict[str, Any]] = [
             {"name": "c", "kind": "Container", "image": "alpine",
              "env": [{"name": "{{workflow.name}}", "value": "v"}]},
             {"name": "t", "kind": "Template",
              "templateRef": {"name": "shared", "template": "notify"},
              "with": {"text": "{{workflow.uid}}"}}]
    s = orchestration_status(cluster_object(steps), NOW)
    (ready,) = s["conditions"]
    assert (s["phase"], ready["reason"]) == ("Invalid", "InvalidField")
    assert ready["message"].startswith('spec.steps[0].env[0].name: "{{workflow.name}}" is not')
    assert "spec.steps[1].with.text: a value passed to a Template step" in ready["message"]


def test_a_run_whose_parameters_reach_a_template_step_with_braces_is_not_compiled() -> None:
    from compiler.diagnostics import Collector
    from compiler.validate import check_orchestration
    from controller.validation import compile_run

    orch = cluster_object([{"name": "t", "kind": "Template",
                            "templateRef": {"name": "shared", "template": "notify"}}])
    model = check_orchestration(orch, Collector())
    assert model is not None
    run = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
           "metadata": {"name": "r", "namespace": "ns"},
           "spec": {"orchestrationRef": {"name": "o"}, "parameters": {"x": "{{workflow.uid}}"}}}
    problems, compiled = compile_run(model, run, None)
    assert compiled is None
    assert [(str(p.reason), str(p.path)) for p in problems] == [
        ("InvalidField", "spec.parameters.x")]


def test_a_missing_tool_is_said_in_the_clusters_words() -> None:
    """The controller reads Tools from the run's namespace: its ToolNotFound names
    that namespace and what to do there, not the CLI's "add the Tool to the input"
    (issue 21)."""
    from compiler.diagnostics import Collector
    from compiler.validate import check_orchestration
    from controller.validation import compile_run

    orch = cluster_object([{"name": "lint", "kind": "ToolRun", "toolRef": {"name": "linter"}}])
    model = check_orchestration(orch, Collector())
    assert model is not None
    run = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
           "metadata": {"name": "r", "namespace": "team-a"},
           "spec": {"orchestrationRef": {"name": "o"}}}
    (problem,), compiled = compile_run(model, run, None, tools={})
    assert compiled is None
    assert (str(problem.reason), str(problem.path), problem.text) == (
        "ToolNotFound", "spec.steps[0].toolRef.name",
        'Tool "linter" is not in namespace "team-a" (create the Tool '
        '(tools.proompteng.ai/v1alpha1) in namespace "team-a", or fix the step\'s toolRef)')


# What the CRDs' CEL rules refused at admission up to 200 steps, and cannot afford
# at the chart's 10,000 (compiler.crd): the controller says it, as before.
@pytest.mark.parametrize(("steps", "reason"), [
    pytest.param([{"name": "a", "kind": "Checkpoint"}, {"name": "a", "kind": "Checkpoint"}],
                 "DuplicateStep", id="duplicate-name"),
    pytest.param([{"name": "a", "kind": "Checkpoint", "dependsOn": ["b"]}],
                 "MissingDependency", id="unknown-dependency"),
    pytest.param([{"name": "a", "kind": "Checkpoint", "dependsOn": ["a"]}],
                 "InvalidDependency", id="self-dependency"),
    pytest.param([{"name": "a", "kind": "Container", "image": "alpine", "with": {"1x": "v"}}],
                 "InvalidField", id="with-key"),
])
def test_what_cel_no_longer_refuses_is_invalid(steps: list[dict[str, Any]], reason: str) -> None:
    s = orchestration_status(cluster_object(steps), NOW)
    (ready,) = s["conditions"]
    assert (s["phase"], ready["reason"]) == ("Invalid", reason)


def chain(n: int) -> list[dict[str, Any]]:
    return [{"name": f"s{i}", "kind": "Checkpoint", "dependsOn": [f"s{i - 1}"] if i else []}
            for i in range(n)]


def test_more_steps_than_one_dag_holds_is_valid() -> None:
    """Contract §8: 201 to maxSteps steps are split into several DAGs: valid."""
    s = orchestration_status(cluster_object(chain(1000)), NOW)
    assert s["phase"] == "Ready", s["conditions"]


def test_more_steps_than_max_steps_is_too_many() -> None:
    s = orchestration_status(cluster_object(chain(11)), NOW, max_steps=10)
    (ready,) = s["conditions"]
    assert (s["phase"], ready["reason"]) == ("Invalid", "TooManySteps")


def test_the_controller_compiles_a_run_that_needs_a_split_into_its_workflows() -> None:
    """Phase 2 of issue #19: a run of more steps than one DAG holds is compiled into
    the Workflows of its split (contract §8), each named after the run, no longer
    refused (WorkflowTooLarge)."""
    from compiler.compiled import graph_from_workflows
    from compiler.diagnostics import Collector
    from compiler.validate import check_orchestration
    from controller.validation import compile_run

    model = check_orchestration(cluster_object(chain(2500)), Collector())
    assert model is not None
    run = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
           "metadata": {"name": "r", "namespace": "ns"},
           "spec": {"orchestrationRef": {"name": "o"}}}
    problems, compiled = compile_run(model, run, None)
    assert problems == [] and compiled is not None and compiled.is_split
    names = [w["metadata"]["name"] for w in compiled.workflows]
    assert names == [f"r-{i + 1}" for i in range(len(names))]
    assert graph_from_workflows(compiled.workflows).names == tuple(f"s{i}" for i in range(2500))


# The names a step gives Kubernetes, judged by the controller as `orch validate`
# judges them (one judge: the kinds' checks), so a run of such an Orchestration is
# refused before its Workflow exists instead of failing when Argo creates the pod.
@pytest.mark.parametrize(("step", "path"), [
    pytest.param({"name": "a", "kind": "AgentRun", "agentRef": {"name": "codex"},
                  "implementationSpecRef": {"name": "impl"}, "secrets": ["Token_1"]},
                 "spec.steps[0].secrets[0]", id="agent-run-secret"),
    pytest.param({"name": "a", "kind": "AgentRun", "agentRef": {"name": "codex"},
                  "implementationSpecRef": {"name": "impl"}, "with": {"secrets": "ok, Bad"}},
                 "spec.steps[0].with.secrets", id="agent-run-secrets-text"),
    pytest.param({"name": "c", "kind": "Container", "image": "alpine",
                  "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "S", "key": "k"}}}]},
                 "spec.steps[0].env[0].valueFrom.secretKeyRef.name", id="secret-key-ref"),
    pytest.param({"name": "c", "kind": "Container", "image": "alpine",
                  "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c",
                                                                          "key": "a b"}}}]},
                 "spec.steps[0].env[0].valueFrom.configMapKeyRef.key", id="config-map-key"),
    pytest.param({"name": "c", "kind": "Container", "image": "alpine",
                  "envFrom": [{"prefix": "1x", "configMapRef": {"name": "c"}}]},
                 "spec.steps[0].envFrom[0].prefix", id="env-from-prefix"),
    pytest.param({"name": "c", "kind": "Container", "image": "alpine",
                  "envFrom": [{"secretRef": {"name": ""}}]},
                 "spec.steps[0].envFrom[0].secretRef.name", id="env-from-secret"),
    pytest.param({"name": "c", "kind": "Container", "image": "alpine",
                  "volumes": [{"name": "data", "emptyDir": {}}],
                  "volumeMounts": [{"name": "dat", "mountPath": "/d"}]},
                 "spec.steps[0].volumeMounts[0].name", id="mount-of-no-volume"),
    pytest.param({"name": "c", "kind": "Container", "image": "alpine",
                  "volumes": [{"name": "data", "emptyDir": {}}],
                  "volumeMounts": [{"name": "data", "mountPath": ""}]},
                 "spec.steps[0].volumeMounts[0].mountPath", id="empty-mount-path"),
])
def test_the_controller_refuses_a_name_kubernetes_would_refuse(step: dict[str, Any],
                                                               path: str) -> None:
    s = orchestration_status(cluster_object([step]), NOW)
    (ready,) = s["conditions"]
    assert (s["phase"], ready["reason"]) == ("Invalid", "InvalidField")
    assert ready["message"].startswith(f"{path}: ")


def test_a_tool_env_entry_without_a_name_is_refused_at_submission() -> None:
    from compiler.diagnostics import Collector
    from compiler.validate import check_orchestration
    from controller.validation import check_tool_object, compile_run

    orch = cluster_object([{"name": "lint", "kind": "ToolRun", "toolRef": {"name": "linter"}}])
    model = check_orchestration(orch, Collector())
    assert model is not None
    problems, tool = check_tool_object({
        "apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
        "metadata": {"name": "linter", "namespace": "team-a"},
        "spec": {"image": "alpine", "command": ["lint"], "env": [{"name": "", "value": "v"}]}})
    assert problems == [] and tool is not None
    run = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
           "metadata": {"name": "r", "namespace": "team-a"},
           "spec": {"orchestrationRef": {"name": "o"}}}
    (problem,), compiled = compile_run(model, run, None, tools={"linter": tool})
    assert compiled is None
    assert (str(problem.reason), str(problem.path)) == ("InvalidField", "spec.steps[0].toolRef")
    assert problem.message.startswith('Tool "linter" spec.env[0].name: "" is empty')


def test_an_invalid_run_is_refused_with_what_compiling_it_finds() -> None:
    """Every problem at once (contract §2, issue 21): a run with a problem of its
    own is compiled salvaged, so a parameter that no step can take is reported
    beside it, not after it is fixed."""
    from compiler.diagnostics import Collector
    from compiler.validate import check_orchestration
    from controller.validation import compile_run

    orch = cluster_object([{"name": "t", "kind": "Template",
                            "templateRef": {"name": "shared", "template": "notify"}}])
    model = check_orchestration(orch, Collector())
    assert model is not None
    run = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
           "metadata": {"name": "r", "namespace": "ns"},
           "spec": {"orchestrationRef": {"name": "o"},
                    "parameters": {"x": "{{workflow.uid}}", "a.b": "v"}}}
    problems, compiled = compile_run(model, run, None)
    assert compiled is None
    assert [(str(p.reason), str(p.path)) for p in problems] == [
        ("InvalidField", 'spec.parameters["a.b"]'), ("InvalidField", "spec.parameters.x")]
