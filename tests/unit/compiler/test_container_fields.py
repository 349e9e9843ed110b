"""A Container step carries every field of a Kubernetes container a step may
set, checked against the Kubernetes schema, and refuses the others by name
(issue 10). Before, `env[].valueFrom` became `value: ''` and `workingDir`,
`resources`, `imagePullPolicy`, `securityContext` and `volumeMounts` vanished."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.diagnostics import Collector
from compiler.emit import EmitSettings, emit_workflow
from compiler.inputs import pair_runs, parse_text
from compiler.kinds.container import BRACE_VAR, CARRIED_FIELDS, REFUSED_FIELDS, TEMPLATE_FIELDS
from compiler.podpolicy import OPEN_POLICY
from compiler.pods import RESTRICTED_CONTAINER, PodSettings
from compiler.schema_check import SCHEMA_PATH
from tests.support import k8s_schema
from tests.unit.compiler.test_literals import k8s_expand


def _doc(step: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
            "metadata": {"name": "o"},
            "spec": {"steps": [{"name": "c", "kind": "Container", "image": "alpine", **step}]}}


# What is carried when the install's pod policy allows it (every list open, Pod
# Security restricted as by default); what the policy refuses is test_pods.py's.
CARRY_ALL = PodSettings(policy=replace(OPEN_POLICY, pod_security="restricted"))


def compile_one(*docs: dict[str, Any]) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """The Container template, or the (reason, path) of every error."""
    parsed = parse_text(yaml.safe_dump_all(docs), "t.yaml")
    errors = [(str(d.reason), str(d.path)) for d in parsed.diagnostics if d.is_error]
    if errors:
        return None, errors
    ((_, orch, run),) = pair_runs(parsed)
    out = Collector()
    workflow = emit_workflow(orch, run, out, settings=EmitSettings(pods=CARRY_ALL)).workflow
    errors = [(str(d.reason), str(d.path)) for d in out.items if d.is_error]
    templates = [t for t in workflow["spec"]["templates"] if "container" in t]
    return (templates[0] if templates and not errors else None), errors


def _without_provenance(schema: dict[str, Any]) -> dict[str, Any]:
    # "source" names the client's release; a patch release that leaves the
    # schema as it was must not fail this test (it did: 37.0.2 -> 37.0.3).
    return {key: value for key, value in schema.items() if key != "source"}


def test_committed_schema_is_generated_from_the_installed_client() -> None:
    """What the compiler checks against (the fields, their types and enums) is
    what the installed client's models say; which release wrote it is not."""
    committed = json.loads(Path(SCHEMA_PATH).read_text(encoding="utf-8"))
    assert _without_provenance(committed) == _without_provenance(k8s_schema.generate()), (
        "regenerate with `make k8s-schema` and review the diff")


def test_committed_schema_is_written_as_the_generator_writes_it() -> None:
    committed = Path(SCHEMA_PATH).read_text(encoding="utf-8")
    assert committed == k8s_schema.render(json.loads(committed))


def test_every_kubernetes_container_field_is_carried_or_refused() -> None:
    """A field Kubernetes adds makes this fail until someone decides about it."""
    from kubernetes.client.models import V1Container

    fields = set(V1Container.attribute_map.values())
    assert fields - {"name"} == set(CARRIED_FIELDS) | set(REFUSED_FIELDS)
    assert not set(CARRIED_FIELDS) & set(REFUSED_FIELDS)


FIELDS: dict[str, Any] = {
    "workingDir": "/src",
    "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"},
                {"secretRef": {"name": "creds", "optional": True}}],
    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
    "volumeMounts": [{"name": "cache", "mountPath": "/cache", "readOnly": True,
                      "subPathExpr": "$(POD)"}],
    "volumeDevices": [{"name": "raw", "devicePath": "/dev/xvda"}],
    "terminationMessagePath": "/tmp/msg",
    "terminationMessagePolicy": "FallbackToLogsOnError",
    "imagePullPolicy": "Always",
    "securityContext": {"runAsUser": 1000, "readOnlyRootFilesystem": True},
}


# What a field needs beside it in the pod: a mount names one of the step's volumes.
BESIDE = {"volumeMounts": {"volumes": [{"name": "cache", "emptyDir": {}}]}}


@pytest.mark.parametrize("field", list(FIELDS))
def test_a_carried_field_reaches_the_container_unchanged(field: str) -> None:
    template, errors = compile_one(_doc({field: FIELDS[field], **BESIDE.get(field, {})}))
    assert errors == [] and template is not None
    expected = FIELDS[field]
    if field == "securityContext":  # over the restricted defaults (test_pods.py)
        expected = {**RESTRICTED_CONTAINER, **expected}
    assert template["container"][field] == expected


def test_value_from_and_volumes_are_carried() -> None:
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "t"}}},
           {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu",
                                                              "divisor": 1}}},
           {"name": "EMPTY"}]
    volumes = [{"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
               {"name": "cfg", "configMap": {"name": "settings", "defaultMode": 420}}]
    template, errors = compile_one(_doc({"env": env, "volumes": volumes}))
    assert errors == [] and template is not None
    assert template["container"]["env"] == [
        env[0], {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu",
                                                                    "divisor": "1"}}},
        {"name": "EMPTY"}]
    assert template["volumes"] == volumes


def test_numeric_quantities_are_written_as_strings() -> None:
    template, _ = compile_one(_doc({"resources": {"limits": {"cpu": 2, "memory": 0.5}}}))
    assert template is not None
    assert template["container"]["resources"] == {"limits": {"cpu": "2", "memory": "0.5"}}


def test_the_compiled_container_is_one_kubernetes_accepts() -> None:
    """The kubernetes client's own models (extra fields forbidden) read it back."""
    from kubernetes.client.models import V1Container, V1Volume

    env = [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "c", "key": "k"}}}]
    template, _ = compile_one(_doc({**FIELDS, "env": env, "command": ["sh"],
                                    "volumes": [{"name": "cache", "emptyDir": {}}]}))
    assert template is not None
    V1Container.model_validate({"name": "main", **template["container"]})
    for volume in template["volumes"]:
        V1Volume.model_validate(volume)


INVALID = "InvalidField"


@pytest.mark.parametrize(("step", "path"), [
    pytest.param({"ports": [{"containerPort": 80}]}, "spec.steps[0].ports", id="refused-field"),
    pytest.param({"tty": True}, "spec.steps[0].tty", id="refused-tty"),
    pytest.param({"resources": {"limit": {}}}, "spec.steps[0].resources.limit",
                 id="unknown-nested-field"),
    pytest.param({"resources": {"requests": {"cpu": "lots"}}},
                 "spec.steps[0].resources.requests.cpu", id="bad-quantity"),
    pytest.param({"imagePullPolicy": "Sometimes"}, "spec.steps[0].imagePullPolicy",
                 id="enum"),
    pytest.param({"securityContext": {"runAsUser": "1000"}},
                 "spec.steps[0].securityContext.runAsUser", id="string-for-integer"),
    pytest.param({"volumeMounts": [{"name": "x"}]}, "spec.steps[0].volumeMounts[0].mountPath",
                 id="required-nested-field"),
    pytest.param({"workingDir": "/w/{{workflow.name}}"}, "spec.steps[0].workingDir",
                 id="braces-in-an-unexpanded-field"),
    pytest.param({"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "{{x}}"}}}]},
                 "spec.steps[0].env[0].valueFrom.secretKeyRef.name", id="braces-in-value-from"),
    pytest.param({"env": [{"name": "A", "value": "v", "valueFrom": {"fieldRef": {
        "fieldPath": "metadata.name"}}}]}, "spec.steps[0].env[0].value",
                 id="value-and-value-from"),
    pytest.param({"env": [{"name": "A", "valeu": "v"}]}, "spec.steps[0].env[0].valeu",
                 id="unknown-env-key"),
    pytest.param({"volumes": [{"name": "v", "emptyDir": {"sizeLimit": "big"}}]},
                 "spec.steps[0].volumes[0].emptyDir.sizeLimit", id="volume"),
    pytest.param({"env": [{"name": BRACE_VAR, "value": "x"}]}, "spec.steps[0].env[0].name",
                 id="reserved-env-name"),
    pytest.param({"with": {BRACE_VAR: "x"}}, f"spec.steps[0].with.{BRACE_VAR}",
                 id="reserved-with-key"),
])
def test_refused_with_invalid_field_at_its_path(step: dict[str, Any], path: str) -> None:
    template, errors = compile_one(_doc(step))
    assert template is None and (INVALID, path) in errors, errors


def test_typo_in_a_nested_field_suggests_the_field() -> None:
    parsed = parse_text(yaml.safe_dump(_doc({"securityContext": {"privilegd": False}})), "t")
    (found,) = [d for d in parsed.diagnostics if d.is_error]
    assert found.hint == 'did you mean "privileged"?'


def test_a_run_parameter_named_like_the_brace_variable_is_refused() -> None:
    run = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
           "metadata": {"name": "r"},
           "spec": {"orchestrationRef": {"name": "o"}, "parameters": {BRACE_VAR: "x"}}}
    _, errors = compile_one(_doc({}), run)
    assert errors == [(INVALID, f"spec.parameters.{BRACE_VAR}")]


def test_braces_still_decode_to_the_users_value() -> None:
    value = "{{workflow.name}} ${HOME} $(X)"
    template, _ = compile_one(_doc({"command": [value], "with": {"P": value},
                                    "env": [{"name": "E", "value": value}]}))
    assert template is not None
    container = template["container"]
    env: dict[str, str] = {e["name"]: e.get("value", "") for e in container["env"]}

    def lookup(name: str) -> str:
        return env.get(name, f"$({name})")

    assert container["env"][0] == {"name": BRACE_VAR, "value": "{"}
    assert [k8s_expand(c, lookup) for c in container["command"]] == [value]
    assert k8s_expand(env["E"], lookup) == k8s_expand(env["P"], lookup) == value


def test_template_fields_are_argo_template_fields() -> None:
    from hera.workflows.models import Template

    assert set(TEMPLATE_FIELDS) <= set(Template.model_fields)
