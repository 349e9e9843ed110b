"""The pods a Workflow starts: no ServiceAccount token in a step's container and
the Pod Security `restricted` settings by default, both configurable (contract
§4; compiler.pods cites what Argo v4.0.5 honours). That these pods are admitted
by a `restricted` namespace and run on the real Argo is tests/e2e."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from compiler.cli import main
from compiler.emit import emit_workflow
from compiler.inputs import parse_text
from compiler.pods import (
    RESTRICTED_CONTAINER,
    RESTRICTED_POD,
    PodSettings,
    executor_patch,
    merged,
)
from tests.golden import VALID


def _compile(settings: PodSettings | None = None, service_account: str | None = None,
             container: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
           "metadata": {"name": "o"}, "spec": {"steps": [
               {"name": "c", "kind": "Container", "image": "alpine", **(container or {})},
               {"name": "a", "kind": "ToolRun", "toolRef": {"name": "t"}}]}}
    parsed = parse_text(yaml.safe_dump(doc), "t.yaml")
    ((_, orch),) = parsed.orchestrations
    workflow: dict[str, Any] = emit_workflow(orch, None, None, service_account, settings).workflow
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
    spec = _compile(PodSettings(automount_token=True, pod_security="none"))["spec"]
    assert not {"automountServiceAccountToken", "executor", "securityContext"} & set(spec)
    template = _container_template({"spec": spec})
    assert "securityContext" not in template["container"] and "podSpecPatch" not in template


@pytest.mark.parametrize(("own", "expected"), [
    pytest.param(None, dict(RESTRICTED_CONTAINER), id="defaults"),
    pytest.param({"runAsUser": 1000}, {**RESTRICTED_CONTAINER, "runAsUser": 1000},
                 id="a new key is added"),
    pytest.param({"allowPrivilegeEscalation": True},
                 {**RESTRICTED_CONTAINER, "allowPrivilegeEscalation": True},
                 id="the step's own value wins"),
    pytest.param({"capabilities": {"add": ["NET_BIND_SERVICE"]}},
                 {**RESTRICTED_CONTAINER, "capabilities": {"drop": ["ALL"],
                                                           "add": ["NET_BIND_SERVICE"]}},
                 id="mappings merge: add joins the default drop"),
    pytest.param({"capabilities": {"drop": ["NET_RAW"]}},
                 {**RESTRICTED_CONTAINER, "capabilities": {"drop": ["NET_RAW"]}},
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
