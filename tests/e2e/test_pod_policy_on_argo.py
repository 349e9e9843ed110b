"""The pods orch's Workflows start are admitted by the real apiserver's Pod Security
admission (contract §4, §6; issue 20 item 3): every kind that runs a pod, compiled
under the default pod policy, in a namespace enforcing `restricted`; and an
allowed `privileged: true` under `podPolicy: none`, with no default beside it, in
a namespace whose Pod Security allows it. Pods are really created by the real
Argo; kwok then completes them (nothing executes, so admission is what is shown).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from compiler.emit import EmitSettings, emit_workflow
from compiler.inputs import parse_text
from compiler.pod_security import RESTRICTED_CONTAINER, check_restricted, merged
from compiler.podpolicy import OPEN_POLICY, parse_pod_policy
from compiler.pods import PodSettings
from tests.cluster import Cluster
from tests.e2e.orch_controller import API, WF_API
from tests.e2e.tenancy import workflow_namespace
from tests.golden import GOLDEN

pytestmark = pytest.mark.e2e

NODE_NAME = "workflows.argoproj.io/node-name"
PSA = "pod-security.kubernetes.io/"
# The reference system's own Tool (charts/agents/examples/tool-sample.yaml): alpine,
# which runs as root unless told otherwise.
ECHO_TOOL = {"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
             "metadata": {"name": "echo-tool"},
             "spec": {"image": "alpine:3.20", "command": ["/bin/sh", "-c"],
                      "args": ["echo {{parameters.message}}"]}}
DEPLOY_TOOL = {"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
               "metadata": {"name": "deploy"},
               "spec": {"image": "alpine:3.20", "command": ["true"],
                        "serviceAccount": "deployer"}}
# Every kind that runs a pod of its own, each default combination (the AgentRun's
# and SubOrchestration's resource pods run every golden in test_compiled_on_argo).
STEPS: list[dict[str, Any]] = [
    {"name": "container", "kind": "Container", "image": "alpine:3.20", "command": ["true"]},
    {"name": "container-own", "kind": "Container", "image": "alpine:3.20", "command": ["true"],
     "securityContext": {"runAsUser": 1000, "capabilities": {"add": ["NET_BIND_SERVICE"]},
                         "readOnlyRootFilesystem": True},
     "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
     "volumes": [{"name": "scratch", "emptyDir": {}}]},
    {"name": "tool", "kind": "ToolRun", "toolRef": {"name": "echo-tool"},
     "with": {"message": "hi"}},
    {"name": "tool-own", "kind": "ToolRun", "toolRef": {"name": "echo-tool"},
     "with": {"message": "hi"}, "securityContext": {"runAsUser": 1000, "runAsGroup": 1000}},
    {"name": "tool-account", "kind": "ToolRun", "toolRef": {"name": "deploy"}},
    {"name": "template", "kind": "Template",
     "templateRef": {"name": "shared-steps", "template": "notify"},
     "with": {"channel": "c", "text": "t"}},
]


def _workflow(name: str, steps: list[dict[str, Any]], settings: PodSettings,
              *tools: dict[str, Any]) -> dict[str, Any]:
    docs = [{"apiVersion": API, "kind": "Orchestration", "metadata": {"name": name},
             "spec": {"steps": steps}},
            {"apiVersion": API, "kind": "OrchestrationRun", "metadata": {"name": name},
             "spec": {"orchestrationRef": {"name": name}}}, *tools]
    parsed = parse_text(yaml.safe_dump_all(docs), f"{name}.yaml")
    assert parsed.ok, [d.text for d in parsed.diagnostics]
    ((_, orch),), ((_, run),) = parsed.orchestrations, parsed.runs
    from compiler.diagnostics import Collector

    out = Collector()
    workflow: dict[str, Any] = emit_workflow(
        orch, run, out, EmitSettings(pods=settings, tools=parsed.tools_in(None))).workflow
    assert not [d for d in out.items if d.is_error], [d.text for d in out.items]
    workflow["metadata"].pop("namespace", None)
    return workflow


def _pods(cluster: Cluster, workflow: str, namespace: str) -> dict[str, dict[str, Any]]:
    """By step: Argo's node name is `<workflow>.<task>` (a Template step's pod is its
    WorkflowTemplate's, without orch's step label)."""
    pods = cluster.kube.list_objects("v1", "Pod", namespace,
                                     f"workflows.argoproj.io/workflow={workflow}")
    return {p["metadata"]["annotations"][NODE_NAME].removeprefix(f"{workflow}."): p
            for p in pods}


def _main(pod: dict[str, Any]) -> dict[str, Any]:
    (main,) = [c for c in pod["spec"]["containers"] if c["name"] == "main"]
    found: dict[str, Any] = main
    return found


def test_every_default_combination_is_admitted_under_restricted(cluster: Cluster) -> None:
    namespace = workflow_namespace(cluster, "orch-policy-restricted", {
        f"{PSA}enforce": "restricted", f"{PSA}enforce-version": "latest"})
    cluster.apply_yaml(GOLDEN / "workflowtemplates" / "shared-steps.yaml", namespace)
    cluster.kube.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": "deployer"}}, namespace)
    settings = PodSettings(policy=parse_pod_policy('{"serviceAccounts": ["deployer"]}'))
    workflow = _workflow("every-default", STEPS, settings, ECHO_TOOL, DEPLOY_TOOL)
    (created,) = cluster.apply_yaml(yaml.safe_dump(workflow), namespace)
    name = created["metadata"]["name"]
    done = cluster.wait_for_workflow(name, namespace, timeout=180)
    problems = {n["displayName"]: n.get("message") for n in done["status"]["nodes"].values()
                if n["phase"] != "Succeeded"}
    assert done["status"]["phase"] == "Succeeded", problems

    pods = _pods(cluster, name, namespace)
    assert set(pods) == {s["name"] for s in STEPS}  # each admitted, Argo's executors too
    for step, pod in pods.items():
        spec = pod["spec"]
        # What Pod Security judged, judged again by the port: the pod as created.
        assert check_restricted(spec) == [], step
        assert {c["name"] for c in spec["initContainers"] + spec["containers"]} >= {
            "init", "wait", "main"}, step
        assert spec["securityContext"]["runAsUser"] == 65532, step
    # The reference's root image runs as 65532; a step's own user wins.
    assert _main(pods["tool"])["securityContext"] == RESTRICTED_CONTAINER
    assert _main(pods["tool-own"])["securityContext"]["runAsUser"] == 1000
    assert _main(pods["container-own"])["securityContext"]["capabilities"] == {
        "drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert pods["tool-account"]["spec"]["serviceAccountName"] == "deployer"


def test_an_allowed_privileged_container_is_admitted_under_none(cluster: Cluster) -> None:
    """Under `podPolicy: none` a step's `privileged: true` is carried alone and the
    pod is created in a namespace whose Pod Security allows it. The control: the
    container orch emitted before (the restricted settings under the step's own, so
    `allowPrivilegeEscalation: false` beside it) is refused by the apiserver."""
    namespace = workflow_namespace(cluster, "orch-policy-privileged", {
        f"{PSA}enforce": "privileged", f"{PSA}enforce-version": "latest"})
    step = {"name": "privileged", "kind": "Container", "image": "alpine:3.20",
            "command": ["true"], "securityContext": {"privileged": True}}
    allowed = _workflow("privileged-allowed", [step], PodSettings(policy=OPEN_POLICY))
    before = _workflow("privileged-before", [step], PodSettings(policy=OPEN_POLICY))
    (template,) = [t for t in before["spec"]["templates"] if "container" in t]
    template["container"]["securityContext"] = merged(RESTRICTED_CONTAINER,
                                                      {"privileged": True})
    names = [cluster.apply_yaml(yaml.safe_dump(w), namespace)[0]["metadata"]["name"]
             for w in (allowed, before)]
    ok, refused = (cluster.wait_for_workflow(n, namespace, timeout=180) for n in names)

    assert ok["status"]["phase"] == "Succeeded", ok["status"].get("message")
    pod = _pods(cluster, names[0], namespace)["privileged"]
    assert _main(pod)["securityContext"] == {"privileged": True}
    assert "securityContext" not in pod["spec"] or not pod["spec"]["securityContext"]

    assert refused["status"]["phase"] in ("Failed", "Error")
    messages = " ".join(n.get("message", "") for n in refused["status"]["nodes"].values())
    assert "allowPrivilegeEscalation" in messages and "privileged" in messages, messages
    assert _pods(cluster, names[1], namespace) == {}
    assert cluster.kube.list_objects(WF_API, "Workflow", namespace)
