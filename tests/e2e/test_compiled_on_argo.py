"""Every golden Workflow runs on the real Argo workflow-controller (kwok pods),
and user values reach what a pod is handed byte for byte (contract §4).

Under kwok nothing executes, so what a step would have done is read where Argo
put it: a resource template's final manifest is in its executor pod's
`ARGO_TEMPLATE`; a container's command is in the pod spec, before the kubelet's
`$(VAR)` expansion, which `k8s_expand` (a port of Kubernetes' own) then applies.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.cluster import Cluster
from tests.cluster.argo import node_phases
from tests.golden import GOLDEN, VALID, expected_output, inputs
from tests.unit.compiler.test_literals import k8s_expand

pytestmark = pytest.mark.e2e

STEP_LABEL = "orchestration.proompteng.ai/step"


def _submit(cluster: Cluster, workflow: dict[str, Any]) -> str:
    workflow["metadata"].pop("namespace", None)
    (created,) = cluster.apply_yaml(yaml.safe_dump(workflow), cluster.namespace)
    return str(created["metadata"]["name"])


@pytest.fixture(scope="module")
def finished(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """Every golden output submitted at once, then each waited for."""
    cluster.apply_yaml(GOLDEN / "workflowtemplates" / "shared-steps.yaml", cluster.namespace)
    names: dict[str, str] = {}
    for case in inputs(VALID):
        for i, workflow in enumerate(yaml.safe_load_all(expected_output(case).read_text())):
            names[f"{case.stem}-{i}"] = _submit(cluster, workflow)
    return {case: cluster.wait_for_workflow(name, timeout=180) for case, name in names.items()}


def _cases() -> list[str]:
    return [
        f"{c.stem}-{i}"
        for c in inputs(VALID)
        for i, _ in enumerate(yaml.safe_load_all(expected_output(c).read_text()))
    ]


@pytest.mark.parametrize("case", _cases())
def test_golden_workflow_succeeds_on_argo(finished: dict[str, dict[str, Any]], case: str) -> None:
    wf = finished[case]
    stem, index = case.rsplit("-", 1)
    source = list(yaml.safe_load_all(expected_output(VALID / f"{stem}.yaml").read_text()))
    tasks = [t["name"] for t in source[int(index)]["spec"]["templates"][0]["dag"]["tasks"]]
    phases = node_phases(wf)
    problems = {
        n["displayName"]: n.get("message")
        for n in wf["status"]["nodes"].values()
        if n["phase"] != "Succeeded"
    }
    assert {t: phases.get(t) for t in tasks} == dict.fromkeys(tasks, "Succeeded"), problems
    assert wf["status"]["phase"] == "Succeeded"


def _pods(cluster: Cluster, workflow: str) -> dict[str, dict[str, Any]]:
    pods = cluster.kube.list_objects(
        "v1", "Pod", cluster.namespace, f"workflows.argoproj.io/workflow={workflow}"
    )
    return {p["metadata"]["labels"][STEP_LABEL]: p for p in pods}


def _argo_template(pod: dict[str, Any]) -> dict[str, Any]:
    for container in pod["spec"].get("containers", []) + pod["spec"].get("initContainers", []):
        for env in container.get("env") or []:
            if env["name"] == "ARGO_TEMPLATE":
                template: dict[str, Any] = json.loads(env["value"])
                return template
    raise AssertionError(f"no ARGO_TEMPLATE in pod {pod['metadata']['name']}")


def test_hostile_values_reach_the_pods_unchanged(
    cluster: Cluster, finished: dict[str, dict[str, Any]]
) -> None:
    source = list(yaml.safe_load_all((VALID / "hostile-parameters.yaml").read_text()))
    agent, shell = source[0]["spec"]["steps"]
    run_parameters = source[1]["spec"]["parameters"]
    pods = _pods(cluster, "hostile-run")

    # The AgentRun the executor would create: Argo substituted, then YAML-parsed.
    manifest = yaml.safe_load(_argo_template(pods["agent"])["resource"]["manifest"])
    assert manifest["spec"]["parameters"] == {**run_parameters, **agent["with"]}
    assert manifest["metadata"]["generateName"] == "hostile-run-agent-"
    assert manifest["metadata"]["labels"][STEP_LABEL] == "agent"

    # The container as the kubelet receives it, then as the process sees it.
    (main,) = [c for c in pods["shell"]["spec"]["containers"] if c["name"] == "main"]
    environment: dict[str, str] = {e["name"]: e.get("value", "") for e in main.get("env") or []}

    def lookup(name: str) -> str:  # what the kubelet does with an unknown name
        return environment.get(name, f"$({name})")

    # Argo's emissary runs the user's command after `--`.
    argv = main["command"] + (main.get("args") or [])
    argv = argv[argv.index("--") + 1 :]
    assert [k8s_expand(c, lookup) for c in argv] == shell["command"]
    got = {k: k8s_expand(environment[k], lookup) for k in ("GREETING", "target")}
    assert got == {"GREETING": shell["env"][0]["value"], "target": run_parameters["target"]}


def test_pods_carry_orchestration_labels(
    cluster: Cluster, finished: dict[str, dict[str, Any]]
) -> None:
    pods = _pods(cluster, "hostile-run")
    for step, pod in pods.items():
        labels = pod["metadata"]["labels"]
        assert labels["orchestration.proompteng.ai/orchestration"] == "hostile"
        assert labels["orchestration.proompteng.ai/run"] == "hostile-run"
        assert labels[STEP_LABEL] == step
