"""Every compiled Workflow is one Argo accepts: it validates against Argo's JSON
schema and full CRDs, and survives a round trip through hera's Argo models
without losing a field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from deepdiff import DeepDiff
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compiler.diagnostics import Collector
from compiler.emit import MAX_BYTES, MAX_TEMPLATES, EmitSettings, emit_workflow
from compiler.emit_run import emit_run
from compiler.inputs import Inputs, namespace_of, pair_runs, parse_text
from tests.golden import VALID, expected_output, inputs
from tests.support.argo import (
    SHARED_ABSENT,
    argo_json_schema,
    crd_schema,
    jangar_documents,
    workflow_crd_paths,
)


def _golden_workflows() -> list[Any]:
    params = []
    for case in inputs(VALID):
        for i, doc in enumerate(yaml.safe_load_all(expected_output(case).read_text())):
            params.append(pytest.param(doc, id=f"{case.stem}-{i}"))
    return params


def _compile(parsed: Inputs) -> list[tuple[Any, dict[str, Any]]]:
    """Every Workflow of the input (a ToolRun step with the input's Tools), none
    with a problem."""
    assert parsed.ok, [d.text for d in parsed.diagnostics if d.is_error]
    out = []
    for _, orch, run in pair_runs(parsed):
        problems = Collector()
        tools = parsed.tools_in(namespace_of(orch, run))
        workflow = emit_workflow(orch, run, problems, EmitSettings(tools=tools)).workflow
        assert not [d.text for d in problems.items if d.is_error], orch.metadata.name
        out.append((run.metadata.name if run else orch.metadata.name, workflow))
    return out


def _with_jangar_tools(*paths: Path) -> Inputs:
    """The files, with the reference system's Tools (the ToolRun steps run them).
    A Tool its Orchestrations name that the reference files do not hold (they name
    `jangar-primitives-tool`, which lives only in the reference cluster) is given as
    a stand-in: contract §1 asks that they compile, §4 that a ToolRun step compile
    from its Tool."""
    tools = [p for p in jangar_documents("Tool") if p not in paths]
    text = "\n---\n".join(p.read_text() for p in [*paths, *tools])
    parsed = parse_text(text, str(paths[0]))
    have = {(t.metadata.namespace or "", t.metadata.name) for _, t in parsed.tools}
    named = {(o.metadata.namespace or "", s.tool_ref.name) for _, o in parsed.orchestrations
             for s in o.spec.steps if s.tool_ref is not None}
    stand_ins = [{"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
                  "metadata": {"name": name, **({"namespace": ns} if ns else {})},
                  "spec": {"image": "alpine:3.20", "command": ["true"]}}
                 for ns, name in sorted(named - have)]
    if not stand_ins:
        return parsed
    return parse_text(text + "\n---\n" + yaml.safe_dump_all(stand_ins), str(paths[0]))


def _compile_file(path: Path) -> list[dict[str, Any]]:
    return [workflow for _, workflow in _compile(_with_jangar_tools(path))]


def _jangar_workflows() -> list[Any]:
    paths = jangar_documents("Orchestration")
    if not paths:
        return [pytest.param(None, marks=pytest.mark.skip(reason=SHARED_ABSENT), id="jangar")]
    # Each Orchestration file compiled together with the runs beside it.
    folder_texts: dict[Path, list[Path]] = {}
    for path in paths + jangar_documents("OrchestrationRun"):
        folder_texts.setdefault(path.parent, []).append(path)
    out = []
    for _folder, files in sorted(folder_texts.items()):
        for name, workflow in _compile(_with_jangar_tools(*sorted(set(files)))):
            out.append(pytest.param(workflow, id=f"jangar-{name}"))
    return out


WORKFLOWS = _golden_workflows() + _jangar_workflows()


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_validates_against_argo_json_schema(workflow: dict[str, Any]) -> None:
    schema = argo_json_schema()
    if schema is None:
        pytest.skip(SHARED_ABSENT)
    jsonschema.Draft7Validator(schema).validate(workflow)


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_validates_against_argo_crds(workflow: dict[str, Any]) -> None:
    paths = workflow_crd_paths()
    if not paths:
        pytest.skip(
            "no Argo Workflow CRD: neither ../shared nor the Go module cache has one "
            "(tools/build.sh fetches the module)"
        )
    for path in paths:
        errors = list(jsonschema.Draft4Validator(crd_schema(path)).iter_errors(workflow))
        assert not errors, f"{path}: {errors[0].message} at {list(errors[0].absolute_path)}"


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_round_trips_through_hera_models(workflow: dict[str, Any]) -> None:
    from hera.workflows.models import Workflow

    model = Workflow.model_validate(workflow)
    back = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert DeepDiff(workflow, back) == {}


def within_argo_limits(workflow: dict[str, Any]) -> bool:
    """Argo's limits, computed here from the Workflow, not from the compiler."""
    templates = workflow["spec"]["templates"]
    size = len(json.dumps(workflow, separators=(",", ":")).encode())
    return (len(templates) <= MAX_TEMPLATES and len(templates[0]["dag"]["tasks"]) <= 200
            and size <= MAX_BYTES)


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_stays_within_argo_limits(workflow: dict[str, Any]) -> None:
    assert within_argo_limits(workflow)
    assert workflow["spec"]["templates"][0]["dag"]["failFast"] is False


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.integers(150, 201), containers=st.integers(0, 201),
       notes=st.integers(0, 7000))
@example(steps=200, containers=199, notes=0)  # 200 templates: the entry DAG and 199
@example(steps=200, containers=200, notes=0)  # 201 templates
@example(steps=200, containers=0, notes=5000)  # just under 1 MiB
@example(steps=200, containers=0, notes=5010)  # just over
@example(steps=201, containers=0, notes=0)
def test_the_compiler_refuses_exactly_what_breaks_argo_limits(
        steps: int, containers: int, notes: int) -> None:
    """At the edges (200 steps, 200 templates, 1 MiB): what the compiler puts in one
    Workflow is within Argo's limits, and what it refuses to put in one breaks one;
    that is then split. The goldens are far from the limits, so this is what bites."""
    step_list: list[dict[str, Any]] = [
        {"name": f"s{i}", "kind": "Container", "image": f"alpine:3.{i}"} if i < containers
        else {"name": f"s{i}", "kind": "AgentRun", "agentRef": {"name": "lint"},
              "implementationSpecRef": {"name": "lint"}}
        for i in range(steps)]
    docs = [{"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
             "metadata": {"name": "edge"}, "spec": {"steps": step_list}},
            {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
             "metadata": {"name": "edge-run"},
             "spec": {"orchestrationRef": {"name": "edge"}, "parameters": {"n": "x" * notes}}}]
    parsed = parse_text(yaml.safe_dump_all(docs), "edge.yaml")
    ((_, orch, run),) = pair_runs(parsed)
    out = Collector()
    workflow = emit_workflow(orch, run, out).workflow
    refused = {str(d.reason) for d in out.items if d.is_error}
    assert refused <= {"WorkflowTooLarge"}
    assert bool(refused) == (not within_argo_limits(workflow))
    # What one Workflow cannot hold, a split run does (contract §8): each of its
    # Workflows within the limits, and one Workflow as before wherever that fits.
    out = Collector()
    compiled = emit_run(orch, run, out)
    assert not [d for d in out.items if d.is_error]
    if refused:  # (one that fits may still be split: its node status counts too)
        assert compiled.is_split
    assert all(within_split_limits(w) for w in compiled.workflows)
    if not compiled.is_split:
        assert compiled.workflows == (workflow,)


def within_split_limits(workflow: dict[str, Any]) -> bool:
    """Argo's limits on every DAG template of a Workflow of a split run."""
    templates = workflow["spec"]["templates"]
    size = len(json.dumps(workflow, separators=(",", ":")).encode())
    return (len(templates) <= MAX_TEMPLATES and size <= MAX_BYTES
            and all(len(t["dag"]["tasks"]) <= 200 for t in templates if "dag" in t))


def test_jangar_orchestrations_all_compile() -> None:
    paths = jangar_documents("Orchestration")
    if not paths:
        pytest.skip(SHARED_ABSENT)
    for path in paths:
        if "crds" in path.parts:
            continue
        assert _compile_file(path), path
