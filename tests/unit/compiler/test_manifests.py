"""What `resource` templates create: every manifest a compiled Workflow hands
Argo is accepted by the reference system's CRDs, and user values inside it
survive Argo's substitution byte for byte (no `{{` reaches Argo)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.golden import VALID, expected_output, inputs
from tests.support.argo import SHARED, SHARED_ABSENT

CRDS = SHARED / "reference/jangar/charts/agents/crds"
CRD_FILES = {
    "agent-run": "agents.proompteng.ai_agentruns.yaml",
    "tool-run": "tools.proompteng.ai_toolruns.yaml",
    "sub-orchestration": "orchestration.proompteng.ai_orchestrationruns.yaml",
}


def _spec_schema(template: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRDS / CRD_FILES[template]).read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return dict(schema["properties"]["spec"])


def _created_specs() -> list[Any]:
    out = []
    for case in inputs(VALID):
        for workflow in yaml.safe_load_all(expected_output(case).read_text()):
            for task in workflow["spec"]["templates"][0]["dag"]["tasks"]:
                base = task.get("template", "").split("-retry")[0].split("-timeout")[0]
                if base not in CRD_FILES:
                    continue
                params = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
                out.append(
                    pytest.param(base, params["spec"], id=f"{case.stem}-{task['name'][:20]}")
                )
    return out


@pytest.mark.parametrize(("template", "spec_text"), _created_specs())
def test_created_object_is_accepted_by_its_crd(template: str, spec_text: str) -> None:
    if not CRDS.exists():
        pytest.skip(SHARED_ABSENT)
    assert "{{" not in spec_text, "Argo would expand this value"
    spec = yaml.safe_load(spec_text)  # what Argo's executor parses out of the manifest
    assert spec == json.loads(spec_text)
    jsonschema.Draft4Validator(_spec_schema(template)).validate(spec)
    if template == "agent-run":
        assert spec.get("implementationSpecRef") or spec.get("implementation")
        assert "prompt" not in spec.get("parameters", {})


def test_hostile_values_arrive_unchanged() -> None:
    source = list(yaml.safe_load_all((VALID / "hostile-parameters.yaml").read_text()))
    step_with = source[0]["spec"]["steps"][0]["with"]
    run_params = source[1]["spec"]["parameters"]
    (workflow,) = yaml.safe_load_all(expected_output(VALID / "hostile-parameters.yaml").read_text())
    task = workflow["spec"]["templates"][0]["dag"]["tasks"][0]
    spec_text = task["arguments"]["parameters"][1]["value"]
    manifest_spec = yaml.safe_load(spec_text)
    assert manifest_spec["parameters"] == {**run_params, **step_with}
    container = next(t for t in workflow["spec"]["templates"] if "container" in t)["container"]
    # The step's own command keeps Kubernetes' $(VAR) and $$ (contract §4); no `{{`.
    assert container["command"][2] == "echo '{$(ORCH_OPEN_BRACE)workflow.name}}' $(HOME) $$(x)"


def test_run_parameters_are_workflow_arguments() -> None:
    (workflow,) = yaml.safe_load_all(
        expected_output(VALID / "run-with-parameters.yaml").read_text()
    )
    args = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
    assert args == {"target": "darwin", "version": "1.2.3", "dry-run": "false"}
    build = workflow["spec"]["templates"][0]["dag"]["tasks"][0]
    tool = next(t for t in workflow["spec"]["templates"] if t["name"] == build["template"])
    command = tool["container"]["command"]
    assert "TARGET=linux" in command, "the step's own `with` wins"
    assert "VERSION=1.2.3" in command, "the run's parameters reach the step"


def test_every_kind_case_covers_every_kind() -> None:
    from compiler.kinds import KINDS

    docs = yaml.safe_load_all((VALID / "every-kind.yaml").read_text())
    steps = next(d for d in docs if d["kind"] == "Orchestration")["spec"]["steps"]
    assert {s["kind"] for s in steps} == set(KINDS)


def test_label_values_are_valid(tmp_path: Path) -> None:
    from orchapi.names import LABEL_VALUE

    for case in inputs(VALID):
        for workflow in yaml.safe_load_all(expected_output(case).read_text()):
            for value in workflow["metadata"]["labels"].values():
                assert len(value) <= 63 and LABEL_VALUE.fullmatch(value), value
            for task in workflow["spec"]["templates"][0]["dag"]["tasks"]:
                for p in task.get("arguments", {}).get("parameters", []):
                    if p["name"] == "step":
                        assert len(p["value"]) <= 63 and LABEL_VALUE.fullmatch(p["value"])
