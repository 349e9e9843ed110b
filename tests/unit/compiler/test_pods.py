"""The pods a Workflow starts: no ServiceAccount token in a step's container and
the Pod Security `restricted` settings by default, both configurable (contract
§4; compiler.pods cites what Argo v4.0.5 honours); what a step asks beyond them
judged by the install's pod policy (§6) for each kind that runs a pod. That
these pods are admitted by a `restricted` namespace and run on the real Argo is
tests/e2e; the properties are test_pod_policy_properties.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.diagnostics import Collector
from compiler.emit import EmitSettings, emit_workflow
from compiler.inputs import parse_text
from compiler.podpolicy import OPEN_POLICY, parse_pod_policy
from compiler.pods import (
    DEFAULT_PODS,
    RESTRICTED_CONTAINER,
    RESTRICTED_POD,
    PodSettings,
    executor_patch,
    merged,
)
from operate.cli import main
from tests.golden import VALID


def _compile(settings: PodSettings | None = None, service_account: str | None = None,
             container: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
           "metadata": {"name": "o"}, "spec": {"steps": [
               {"name": "c", "kind": "Container", "image": "alpine", **(container or {})},
               {"name": "a", "kind": "AgentRun", "agentRef": {"name": "t"},
                "implementationSpecRef": {"name": "i"}}]}}
    parsed = parse_text(yaml.safe_dump(doc), "t.yaml")
    ((_, orch),) = parsed.orchestrations
    pods = DEFAULT_PODS if settings is None else settings
    workflow: dict[str, Any] = emit_workflow(orch, None, None,
                                             EmitSettings(service_account, pods)).workflow
    return workflow


def _container_template(workflow: dict[str, Any]) -> dict[str, Any]:
    (template,) = [t for t in workflow["spec"]["templates"] if "container" in t]
    found: dict[str, Any] = template
    return found


def test_by_default_no_token_and_restricted() -> None:
    spec = _compile()["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["executor"] == {"serviceAccountName": "default"}
    assert spec["securityContext"] == RESTRICTED_POD
    template = _container_template({"spec": spec})
    assert template["container"]["securityContext"] == RESTRICTED_CONTAINER
    patch = json.loads(template["podSpecPatch"])
    assert patch == {
        "initContainers": [{"name": "init", "securityContext": RESTRICTED_CONTAINER}],
        "containers": [{"name": "wait", "securityContext": RESTRICTED_CONTAINER}]}
    resource = next(t for t in spec["templates"] if "resource" in t)
    assert "podSpecPatch" not in resource  # Argo's MinimalCtrSC; no `wait` container there


def test_the_executor_uses_the_pods_own_service_account() -> None:
    spec = _compile(service_account="runner")["spec"]
    assert (spec["serviceAccountName"], spec["executor"]) == (
        "runner", {"serviceAccountName": "runner"})


def test_both_can_be_switched_off() -> None:
    spec = _compile(PodSettings(automount_token=True, policy=OPEN_POLICY))["spec"]
    assert not {"automountServiceAccountToken", "executor", "securityContext"} & set(spec)
    template = _container_template({"spec": spec})
    assert "securityContext" not in template["container"] and "podSpecPatch" not in template


@pytest.mark.parametrize(("own", "expected"), [
    pytest.param(None, dict(RESTRICTED_CONTAINER), id="defaults"),
    pytest.param({"runAsUser": 1000}, {**RESTRICTED_CONTAINER, "runAsUser": 1000},
                 id="a new key is added"),
    pytest.param({"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
                 {**RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True},
                 id="the step's own value wins"),
    pytest.param({"capabilities": {"add": ["NET_BIND_SERVICE"]}},
                 {**RESTRICTED_CONTAINER, "capabilities": {"drop": ["ALL"],
                                                           "add": ["NET_BIND_SERVICE"]}},
                 id="mappings merge: add joins the default drop"),
    pytest.param({"capabilities": {"drop": ["NET_RAW", "ALL"]}},
                 {**RESTRICTED_CONTAINER, "capabilities": {"drop": ["NET_RAW", "ALL"]}},
                 id="a list is replaced, not joined"),
])
def test_a_steps_security_context_over_the_defaults(own: dict[str, Any] | None,
                                                    expected: dict[str, Any]) -> None:
    assert merged(RESTRICTED_CONTAINER, own) == expected
    template = _container_template(_compile(container={"securityContext": own} if own else {}))
    assert template["container"]["securityContext"] == expected


def test_the_executor_patch_is_a_pod_spec_patch_of_argo_names() -> None:
    from kubernetes.client.models import V1SecurityContext

    patch = json.loads(executor_patch())
    for container in patch["initContainers"] + patch["containers"]:
        V1SecurityContext.model_validate(container["securityContext"])
    assert [c["name"] for c in patch["initContainers"] + patch["containers"]] == ["init", "wait"]


def test_cli_flags(capsys: pytest.CaptureFixture[str]) -> None:
    case = str(VALID / "diamond.yaml")
    assert main(["compile", case]) == 0
    assert "automountServiceAccountToken: false" in capsys.readouterr().out
    assert main(["compile", "--automount-service-account-token", "--pod-security", "none",
                 case]) == 0
    out = capsys.readouterr().out
    assert "automountServiceAccountToken" not in out and "securityContext" not in out
    assert main(["compile", "--automount-service-account-token", "--pod-policy", "none",
                 case]) == 0
    assert capsys.readouterr().out == out  # --pod-security folds into the policy


@pytest.mark.parametrize("command", ["compile", "validate", "plan"])
def test_the_pod_policy_flag(command: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "p.yaml"
    case.write_text(yaml.safe_dump({
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
        "metadata": {"name": "o"}, "spec": {"steps": [PRIVILEGED]}}))
    assert main([command, str(case)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{case}:") and "[InvalidField]" in err
    assert "spec.steps[0].securityContext.privileged" in err and "podPolicy" in err
    policy = tmp_path / "policy.yaml"
    policy.write_text("podSecurity: none\n")
    assert main([command, "--pod-policy", f"@{policy}", str(case)]) == 0
    assert main([command, "--pod-policy", '{"podSecurity": "none"}', str(case)]) == 0
    capsys.readouterr()
    assert main([command, "--pod-policy", '{"secret": []}', str(case)]) == 2
    assert capsys.readouterr().err == (
        'orch: error: --pod-policy: podPolicy: unknown key "secret" (did you mean '
        '"secrets"?)\n')
    assert main([command, "--pod-policy", f"@{tmp_path / 'missing'}", str(case)]) == 2


# -- the pod policy in force, kind by kind (contract §4, §6) --------------------------------

TOOL: dict[str, Any] = {"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
        "metadata": {"name": "echo-tool"},
        "spec": {"image": "alpine:3.20", "command": ["/bin/sh", "-c"],
                 "args": ["echo {{parameters.message}}"]}}


def _steps(*steps: dict[str, Any], tool: dict[str, Any] | None = None,
           settings: PodSettings | None = None) -> tuple[dict[str, Any], list[Any]]:
    """The Workflow of one run of `steps` (with `tool` in the input), and the
    (reason, path, names) of each error."""
    docs: list[dict[str, Any]] = [
        {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
         "metadata": {"name": "o"}, "spec": {"steps": list(steps)}},
        {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
         "metadata": {"name": "r"}, "spec": {"orchestrationRef": {"name": "o"},
                                             "parameters": {"message": "hi"}}}]
    parsed = parse_text(yaml.safe_dump_all([*docs, *([tool] if tool else [])]), "t.yaml")
    assert parsed.ok, [d.text for d in parsed.diagnostics]
    ((_, orch), (_, run)) = (parsed.orchestrations[0], parsed.runs[0])
    out = Collector()
    pods = DEFAULT_PODS if settings is None else settings
    workflow = emit_workflow(orch, run, out, EmitSettings(pods=pods, tools=parsed.tools_in(None))
                             ).workflow
    return workflow, [(str(d.reason), str(d.path), d.names) for d in out.items if d.is_error]


def _templates(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in workflow["spec"]["templates"]}


PRIVILEGED = {"name": "p", "kind": "Container", "image": "alpine",
              "securityContext": {"privileged": True}}


def test_a_privileged_container_is_refused_by_default() -> None:
    """Issue 20.3 / 21.4: it compiled, with allowPrivilegeEscalation: false beside
    it, and the apiserver refused the pod."""
    _, errors = _steps(PRIVILEGED)
    assert errors == [("InvalidField", "spec.steps[0].securityContext.privileged",
                       ("podSecurity",))]


def test_an_allowed_privileged_container_gets_no_contradicting_default() -> None:
    workflow, errors = _steps(PRIVILEGED, settings=PodSettings(policy=OPEN_POLICY))
    assert errors == []
    (template,) = [t for t in workflow["spec"]["templates"] if "container" in t]
    assert template["container"]["securityContext"] == {"privileged": True}
    assert "securityContext" not in workflow["spec"] and "podSpecPatch" not in template


def test_a_root_image_still_starts_as_65532_unless_the_step_says() -> None:
    """The reference's tool-sample (alpine runs as root): under runAsNonRoot the
    kubelet refuses a root image's container unless runAsUser is set."""
    workflow, errors = _steps({"name": "notify", "kind": "ToolRun",
                               "toolRef": {"name": "echo-tool"}}, tool=TOOL)
    assert errors == []
    assert workflow["spec"]["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}}
    workflow, _ = _steps({"name": "c", "kind": "Container", "image": "alpine",
                          "securityContext": {"runAsUser": 1000}})
    (template,) = [t for t in workflow["spec"]["templates"] if "container" in t]
    assert template["container"]["securityContext"]["runAsUser"] == 1000  # the step's wins


def test_a_toolrun_step_carries_its_security_context() -> None:
    own = {"runAsUser": 1000, "readOnlyRootFilesystem": True}
    step = {"name": "notify", "kind": "ToolRun", "toolRef": {"name": "echo-tool"},
            "securityContext": own}
    workflow, errors = _steps(step, tool=TOOL)
    assert errors == []
    assert _templates(workflow)["tool-echo-tool"]["container"]["securityContext"] == {
        **RESTRICTED_CONTAINER, **own}
    workflow, errors = _steps({**step, "securityContext": {"privileged": True}}, tool=TOOL)
    assert errors == [("InvalidField", "spec.steps[0].securityContext.privileged",
                       ("podSecurity",))]
    workflow, errors = _steps({**step, "securityContext": {"privileged": True}}, tool=TOOL,
                              settings=PodSettings(policy=OPEN_POLICY))
    assert _templates(workflow)["tool-echo-tool"]["container"]["securityContext"] == {
        "privileged": True}


@pytest.mark.parametrize(("settings", "errors"), [
    pytest.param(None, [("InvalidField", "spec.steps[0].toolRef", ("serviceAccounts",))],
                 id="unlisted-by-default"),
    pytest.param(PodSettings(policy=parse_pod_policy('{"serviceAccounts": ["deploy*"]}')), [],
                 id="listed"),
])
def test_a_tools_service_account_is_the_policys(settings: PodSettings | None,
                                                errors: list[Any]) -> None:
    tool = {**TOOL, "spec": {**TOOL["spec"], "serviceAccount": "deployer"}}
    workflow, found = _steps({"name": "n", "kind": "ToolRun", "toolRef": {"name": "echo-tool"}},
                             tool=tool, settings=settings)
    assert found == errors
    if not errors:
        assert _templates(workflow)["tool-echo-tool"]["serviceAccountName"] == "deployer"


def test_a_tools_image_is_the_policys() -> None:
    settings = PodSettings(policy=parse_pod_policy('{"images": ["ghcr.io/acme/*"]}'))
    _, errors = _steps({"name": "n", "kind": "ToolRun", "toolRef": {"name": "echo-tool"}},
                       tool=TOOL, settings=settings)
    assert errors == [("InvalidField", "spec.steps[0].toolRef", ("images",))]
    _, errors = _steps({"name": "c", "kind": "Container", "image": "evil:latest"},
                       settings=settings)
    assert errors == [("InvalidField", "spec.steps[0].image", ("images",))]


def test_a_container_gets_no_secret_by_default() -> None:
    _, errors = _steps({"name": "c", "kind": "Container", "image": "alpine",
                        "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "db",
                                                                             "key": "k"}}}],
                        "envFrom": [{"secretRef": {"name": "all"}}],
                        "volumes": [{"name": "root", "hostPath": {"path": "/"}},
                                    {"name": "tok", "projected": {"sources": [
                                        {"serviceAccountToken": {"path": "t"}}]}}]})
    assert [(path, names) for _, path, names in errors] == [
        ("spec.steps[0].volumes[0].hostPath", ("podSecurity", "volumeTypes")),
        ("spec.steps[0].volumes[1].projected", ("volumeTypes",)),
        ("spec.steps[0].volumes[1].projected.sources[0].serviceAccountToken", ("volumeTypes",)),
        ("spec.steps[0].env[0].valueFrom.secretKeyRef", ("secrets",)),
        ("spec.steps[0].envFrom[0].secretRef", ("secrets",))]


@pytest.mark.parametrize(("ref", "settings", "errors"), [
    pytest.param({"name": "cluster-steps", "template": "notify", "clusterScope": True}, None,
                 [("InvalidField", "spec.steps[0].templateRef.clusterScope", ("templateRefs",))],
                 id="cluster-scope-refused-by-default"),
    pytest.param({"name": "shared-steps", "template": "notify"}, None, [],
                 id="namespaced-allowed-by-default"),
    pytest.param({"name": "cluster-steps", "template": "notify", "clusterScope": True},
                 PodSettings(policy=parse_pod_policy(
                     '{"templateRefs": {"clusterWorkflowTemplates": ["cluster-steps"]}}')), [],
                 id="cluster-scope-listed"),
])
def test_a_template_ref_is_the_policys(ref: dict[str, Any], settings: PodSettings | None,
                                       errors: list[Any]) -> None:
    _, found = _steps({"name": "t", "kind": "Template", "templateRef": ref}, settings=settings)
    assert found == errors


@pytest.mark.parametrize(("own", "names"), [
    pytest.param({"privileged": True, "allowPrivilegeEscalation": False},
                 ("allowPrivilegeEscalation", "privileged"), id="escalation-beside-privileged"),
    pytest.param({"capabilities": {"add": ["CAP_SYS_ADMIN"]}, "allowPrivilegeEscalation": False},
                 ("allowPrivilegeEscalation", "capabilities"), id="escalation-beside-sys-admin"),
    pytest.param({"procMount": "Unmasked"}, ("procMount",), id="unmasked-proc"),
])
def test_what_kubernetes_refuses_of_a_steps_own_settings_is_refused(
        own: dict[str, Any], names: tuple[str, ...]) -> None:
    """Even where the policy allows every key: the pod would never start."""
    for kind in ({"kind": "Container", "image": "alpine"},
                 {"kind": "ToolRun", "toolRef": {"name": "echo-tool"}}):
        doc = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
               "metadata": {"name": "o"},
               "spec": {"steps": [{"name": "s", **kind, "securityContext": own}]}}
        parsed = parse_text(yaml.safe_dump(doc), "t.yaml")
        assert [(str(d.reason), d.names) for d in parsed.diagnostics if d.is_error] == [
            ("InvalidField", names)]
