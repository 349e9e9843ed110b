"""Every golden Workflow runs on the real Argo workflow-controller (kwok pods),
in a namespace that enforces the Pod Security `restricted` level, and user
values reach what a pod is handed byte for byte (contract §4). A step's
container gets no ServiceAccount token; Argo's executor gets its own.

Under kwok nothing executes, so what a step would have done is read where Argo
put it: a resource template's final manifest is in its executor pod's
`ARGO_TEMPLATE`; a container's command is in the pod spec, before the kubelet's
`$(VAR)` expansion, which `k8s_expand` (a port of Kubernetes' own) then applies.
An ApprovalGate or SignalWait is a suspend node that waits for the controller,
which does not run here: a person's `argo resume` releases each, as it may.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
import yaml

from compiler.emit import EmitSettings, emit_workflow
from compiler.inputs import parse_text
from compiler.kinds.base import argo_literal
from compiler.kinds.wait import wait_of_node
from compiler.podpolicy import PodPolicy
from compiler.pods import PodSettings
from tests.cluster import Cluster
from tests.cluster.argo import node_phases
from tests.e2e.tenancy import TOKEN_SECRET, workflow_namespace
from tests.golden import GOLDEN, VALID, expected_output, inputs
from tests.unit.compiler.test_literals import k8s_expand
from tests.unit.compiler.test_manifest_characters import go_read

pytestmark = pytest.mark.e2e

STEP_LABEL = "orchestration.proompteng.ai/step"


RESTRICTED = "orch-restricted"  # pods here must meet Pod Security `restricted`
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def _submit(cluster: Cluster, workflow: dict[str, Any], namespace: str = RESTRICTED) -> str:
    workflow["metadata"].pop("namespace", None)
    (created,) = cluster.apply_yaml(yaml.safe_dump(workflow), namespace)
    return str(created["metadata"]["name"])


@pytest.fixture(scope="module")
def restricted(cluster: Cluster) -> str:
    """A namespace enforcing `restricted`, with what a real install gives the
    Workflows' ServiceAccount (`default` here): the executor's Role, and the
    token Secret Argo mounts into its executor when automounting is off."""
    workflow_namespace(cluster, RESTRICTED, {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest"})
    cluster.apply_yaml(GOLDEN / "workflowtemplates" / "shared-steps.yaml", RESTRICTED)
    for account in TOOL_ACCOUNTS:  # the golden Tools that run as their own account
        cluster.kube.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                            "metadata": {"name": account}}, RESTRICTED)
    return RESTRICTED


TOOL_ACCOUNTS = ("builder", "deployer")


def _resume_waits(cluster: Cluster, names: list[str], namespace: str) -> None:
    """What a person does for a wait when no controller decides it: `argo resume`."""
    pending = set(names)
    deadline = time.monotonic() + 180
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            wf = cluster.kube.get("argoproj.io/v1alpha1", "Workflow", name, namespace) or {}
            status = wf.get("status") or {}
            if status.get("phase") in ("Succeeded", "Failed", "Error"):
                pending.discard(name)
                continue
            if any(n.get("type") == "Suspend" and n.get("phase") == "Running"
                   and wait_of_node(n) for n in (status.get("nodes") or {}).values()):
                subprocess.run([str(cluster.bin_dir / "argo"), "-n", namespace, "resume", name],
                               capture_output=True, timeout=60, check=True,
                               env={**cluster.env(), "PATH": "/usr/bin:/bin", "HOME": "/tmp"})
        time.sleep(0.5)


@pytest.fixture(scope="module")
def finished(cluster: Cluster, restricted: str) -> dict[str, dict[str, Any]]:
    """Every golden output submitted at once, then each waited for."""
    names: dict[str, str] = {}
    for case in inputs(VALID):
        for i, workflow in enumerate(yaml.safe_load_all(expected_output(case).read_text())):
            names[f"{case.stem}-{i}"] = _submit(cluster, workflow)
    _resume_waits(cluster, list(names.values()), restricted)
    return {case: cluster.wait_for_workflow(name, restricted, timeout=180)
            for case, name in names.items()}


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


def _pods(cluster: Cluster, workflow: str, namespace: str = RESTRICTED
          ) -> dict[str, dict[str, Any]]:
    pods = cluster.kube.list_objects(
        "v1", "Pod", namespace, f"workflows.argoproj.io/workflow={workflow}"
    )
    return {p["metadata"]["labels"][STEP_LABEL]: p for p in pods}


def _argo_template(pod: dict[str, Any]) -> dict[str, Any]:
    for container in pod["spec"].get("containers", []) + pod["spec"].get("initContainers", []):
        for env in container.get("env") or []:
            if env["name"] == "ARGO_TEMPLATE":
                template: dict[str, Any] = json.loads(env["value"])
                return template
    raise AssertionError(f"no ARGO_TEMPLATE in pod {pod['metadata']['name']}")


def _main(pod: dict[str, Any]) -> dict[str, Any]:
    (main,) = [c for c in pod["spec"]["containers"] if c["name"] == "main"]
    found: dict[str, Any] = main
    return found


def _environment(container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as its process sees it: the kubelet expands
    `$(VAR)` in each value with the variables defined before it, in order."""
    env: dict[str, str] = {}
    for e in container.get("env") or []:
        env[e["name"]] = k8s_expand(e.get("value", ""), lambda n: env.get(n, f"$({n})"))
    return env


def test_hostile_values_reach_the_pods_unchanged(
    cluster: Cluster, finished: dict[str, dict[str, Any]]
) -> None:
    source = list(yaml.safe_load_all((VALID / "hostile-parameters.yaml").read_text()))
    agent, shell, tool = source[0]["spec"]["steps"]
    run_parameters = source[1]["spec"]["parameters"]
    lint = source[2]["spec"]
    pods = _pods(cluster, "hostile-run")

    # The objects the executor would create: Argo substituted the manifest, then
    # it is read as the executor reads it (Go's YAML reader): every character,
    # control characters and Unicode line breaks included, and every odd key.
    (agent_manifest,) = go_read([_argo_template(pods["agent"])["resource"]["manifest"]])
    assert agent_manifest["spec"]["parameters"] == {**run_parameters, **agent["with"]}
    assert agent_manifest["metadata"]["generateName"] == "hostile-run-agent-"
    assert agent_manifest["metadata"]["labels"][STEP_LABEL] == "agent"

    # The container as the kubelet receives it, then as the process sees it: the
    # step's own command and env keep Kubernetes' $(VAR) meaning, values arrive as
    # written (contract §4).
    argv, environment = _process(pods["shell"])
    expected = _environment({"env": shell["env"]}) | run_parameters | shell["with"]
    assert {k: environment[k] for k in expected} == expected
    assert argv == [k8s_expand(c, lambda n: expected.get(n, f"$({n})")) for c in shell["command"]]
    assert argv[2] == "echo '{{workflow.name}}' $(HOME) $(x)"

    # The ToolRun step runs its Tool, each placeholder holding the parameter.
    params = {**run_parameters, **tool["with"]}
    argv, environment = _process(pods["tool"])
    assert argv == [
        *lint["command"][:2], f"echo {params['-']} {params['0']}",
        params["a_B-9"], params["target"], f"[{params['empty']}]", params["yes"]]
    assert environment["TARGET"] == params["target"] + "$(HOME)"


def _process(pod: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The main container's argv and environment as its process sees them: Argo's
    emissary runs the user's command after `--`, once the kubelet expanded it."""
    main = _main(pod)
    environment = _environment(main)
    argv = main["command"] + (main.get("args") or [])
    argv = argv[argv.index("--") + 1 :]
    return [k8s_expand(c, lambda n: environment.get(n, f"$({n})")) for c in argv], environment


def test_a_step_container_gets_no_token_and_the_executor_its_own(
    cluster: Cluster, finished: dict[str, dict[str, Any]]
) -> None:
    """The ServiceAccount admission plugin runs here: without
    `automountServiceAccountToken: false` every container would mount a token."""
    pods = _pods(cluster, "hostile-run")
    for step, pod in pods.items():
        spec = pod["spec"]
        assert spec.get("automountServiceAccountToken") is False, step
        (volume,) = [v for v in spec["volumes"] if v["name"] == "exec-sa-token"]
        assert volume["secret"]["secretName"] == TOKEN_SECRET
        for container in spec["containers"] + spec.get("initContainers", []):
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []}
            user_container = step in ("shell", "tool") and container["name"] == "main"
            assert mounts.get(TOKEN_PATH) == (None if user_container else "exec-sa-token"), \
                (step, container["name"], mounts)
    secret = cluster.kube.get("v1", "Secret", TOKEN_SECRET, RESTRICTED)
    assert secret is not None and secret.get("data", {}).get("token"), \
        "the token controller fills in the Secret Argo mounts"


def test_a_tool_with_a_service_account_runs_as_it_with_its_token(
    cluster: Cluster, finished: dict[str, dict[str, Any]]
) -> None:
    """Only a Tool that names a ServiceAccount gets a token in its container, that
    account's; Argo's executor keeps its own."""
    pod = _pods(cluster, "release-42").get("build")
    assert pod is not None
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "builder"
    assert spec.get("automountServiceAccountToken") is not False
    mounts = {c["name"]: {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
              for c in spec["containers"]}
    projected = {v["name"] for v in spec["volumes"] if "projected" in v}
    assert mounts["main"].get(TOKEN_PATH) in projected  # the admission plugin's token
    assert mounts["wait"].get(TOKEN_PATH) == "exec-sa-token"


def _container_orchestration(name: str) -> Any:
    doc = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
           "metadata": {"name": name}, "spec": {"steps": [
               {"name": "run", "kind": "Container", "image": "alpine:3.20",
                "command": ["true"]}]}}
    ((_, orch),) = parse_text(yaml.safe_dump(doc), name).orchestrations
    return orch


def test_restricted_is_enforced_and_the_token_switch_works(
    cluster: Cluster, restricted: str
) -> None:
    """Controls for the two tests above, both submitted at once: without the
    `restricted` settings Argo's pod is refused by the namespace; with
    automounting on, the step's container mounts a token."""
    plain = emit_workflow(_container_orchestration("plain"), settings=EmitSettings(
        pods=PodSettings(policy=PodPolicy(pod_security="none")))).workflow
    mounted = emit_workflow(_container_orchestration("mounted"), settings=EmitSettings(
        pods=PodSettings(automount_token=True))).workflow
    names = [_submit(cluster, plain), _submit(cluster, mounted)]
    refused, allowed = (cluster.wait_for_workflow(n, restricted, timeout=120) for n in names)
    messages = " ".join(n.get("message", "") for n in refused["status"]["nodes"].values())
    assert refused["status"]["phase"] in ("Failed", "Error") and "PodSecurity" in messages
    assert allowed["status"]["phase"] == "Succeeded"
    mounts = [m["mountPath"] for m in _main(_pods(cluster, names[1])["run"]).get(
        "volumeMounts") or []]
    assert TOKEN_PATH in mounts


def test_argo_expands_braces_inside_a_workflowtemplate(cluster: Cluster) -> None:
    """Why a Template step's value may not hold `{{` (orch refuses it): passed
    in the form that survives everywhere else (produced by an expression), Argo's
    substitution inside the referenced template still expands it."""
    namespace = cluster.namespace  # a plain pod: the point is Argo, not Pod Security
    echo = {"name": "echo", "inputs": {"parameters": [{"name": "text"}]},
            "container": {"image": "alpine:3.20",
                          "command": ["echo", "{{inputs.parameters.text}}"]}}
    cluster.apply_yaml(yaml.safe_dump({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
        "metadata": {"name": "echo-text"}, "spec": {"templates": [echo]}}), namespace)
    task = {"name": "echo", "templateRef": {"name": "echo-text", "template": "echo"},
            "arguments": {"parameters": [
                {"name": "text", "value": argo_literal("{{workflow.name}}")}]}}
    workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "template-braces"},
                "spec": {"entrypoint": "main",
                         "templates": [{"name": "main", "dag": {"tasks": [task]}}]}}
    name = _submit(cluster, workflow, namespace)
    cluster.wait_for_workflow(name, namespace, timeout=120)
    (pod,) = cluster.kube.list_objects("v1", "Pod", namespace,
                                       f"workflows.argoproj.io/workflow={name}")
    argv = _main(pod)["command"] + (_main(pod).get("args") or [])
    assert argv[argv.index("--") + 1 :] == ["echo", "template-braces"]  # not "{{workflow.name}}"


def test_pods_carry_orchestration_labels(
    cluster: Cluster, finished: dict[str, dict[str, Any]]
) -> None:
    pods = _pods(cluster, "hostile-run")
    for step, pod in pods.items():
        labels = pod["metadata"]["labels"]
        assert labels["orchestration.proompteng.ai/orchestration"] == "hostile"
        assert labels["orchestration.proompteng.ai/run"] == "hostile-run"
        assert labels[STEP_LABEL] == step
