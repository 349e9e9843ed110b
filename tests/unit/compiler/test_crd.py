"""The generated CRDs: committed = generated, structural, and as permissive as the
reference CRDs except where the contract calls an object invalid.

Why: the chart's CRDs are generated from the models; these tests are what make
"never written by hand" and "accept every object the reference accepts" true.
The CEL rules are exercised on the real apiserver (tests/e2e/test_crd_admission.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel, Field

from compiler.crd import (
    CEL_STEPS,
    PRESERVE,
    NotStructuralError,
    generate_crds,
    immutable_field_rules,
    orchestration_crd,
    orchestration_run_crd,
    structural_schema,
)
from compiler.render import to_yaml
from operate.cli import main
from orchapi.api import MAX_STEPS
from orchapi.models import MAX_NAME_LENGTH, MUTABLE_RUN_SPEC_FIELDS
from orchapi.schema import OrchestrationRunSpec, Step

REPO = Path(__file__).resolve().parents[3]
CHART_CRDS = REPO / "charts" / "orch" / "crds"
JANGAR = REPO.parent / "shared" / "reference" / "jangar"
REFERENCE_CRDS = JANGAR / "charts" / "agents" / "crds"
Schema = dict[str, Any]


def needs_reference() -> None:
    if not JANGAR.is_dir():
        pytest.skip(f"reference system absent: {JANGAR} (../shared/reference/jangar)")


def openapi(crd: Schema) -> Schema:
    schema: Schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def version(crd: Schema) -> Schema:
    out: Schema = crd["spec"]["versions"][0]
    return out


# --- committed = generated ------------------------------------------------------

@pytest.mark.parametrize("name", sorted(generate_crds()))
def test_committed_crd_is_generated(name: str) -> None:
    path = CHART_CRDS / name
    expected = to_yaml([generate_crds()[name]])
    assert path.is_file(), f"{path} is missing: run `make crds`"
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path.relative_to(REPO)} differs from what the models generate: run `make crds` "
        "(orch crds --output-dir charts/orch/crds) and commit the result")


def test_no_stray_files_in_crds_dir() -> None:
    assert sorted(p.name for p in CHART_CRDS.glob("*")) == sorted(generate_crds())


GENERATE = ("from compiler.crd import generate_crds; from compiler.render import to_yaml; "
            "print(to_yaml(generate_crds().values()), end='')")


def test_generation_is_deterministic() -> None:
    """The same CRDs from two processes whose string hashes differ (set and dict
    orders built from hashes would differ between them), and from this one."""
    outputs = {
        seed: subprocess.run([sys.executable, "-c", GENERATE], cwd=REPO, capture_output=True,
                             text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed},
                             timeout=120).stdout
        for seed in ("1", "2")
    }
    assert outputs["1"] == outputs["2"] == to_yaml(generate_crds().values())


def test_cli_prints_and_writes_the_same_crds(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crds"]) == 0
    printed = list(yaml.safe_load_all(capsys.readouterr().out))
    assert printed == list(generate_crds().values())
    assert main(["crds", "--output-dir", str(tmp_path / "out")]) == 0
    for name, crd in generate_crds().items():
        assert (tmp_path / "out" / name).read_text(encoding="utf-8") == to_yaml([crd])


def test_cli_unwritable_dir_is_a_usage_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["crds", "--output-dir", str(blocker / "sub")]) == 2
    assert "cannot write" in capsys.readouterr().err


# --- structural -----------------------------------------------------------------

FORBIDDEN = ("$ref", "anyOf", "oneOf", "allOf", "not", "const", "default", "nullable",
             "definitions", "$defs", "title", "additionalItems", "patternProperties",
             "dependencies", "uniqueItems")


def structural_problems(node: Schema, path: str = "") -> Iterator[str]:
    """What makes a schema non-structural for the apiserver (apiextensions'
    `ValidateStructural`, plus keys it forbids or that we never want: defaults
    written into objects, `nullable`)."""
    for key in FORBIDDEN:
        if key in node:
            yield f"{path or '.'}: has {key}"
    typed = "type" in node or node.get(PRESERVE) or node.get("x-kubernetes-int-or-string")
    if not typed:
        yield f"{path or '.'}: no type"
    if "properties" in node and "additionalProperties" in node:
        yield f"{path}: properties and additionalProperties together"
    extra = node.get("additionalProperties")
    if isinstance(extra, bool):
        yield f"{path}: additionalProperties is a boolean"
    if node.get("type") == "array" and not isinstance(node.get("items"), dict):
        yield f"{path}: array without one items schema"
    if node.get("type") not in (None, "object") and ("properties" in node or extra):
        yield f"{path}: properties on a {node['type']}"
    if node.get("x-kubernetes-list-type") == "map":
        for key in node.get("x-kubernetes-list-map-keys", []):
            if key not in node["items"].get("required", []):
                yield f"{path}: map key {key} is not required"
    for name, sub in node.get("properties", {}).items():
        yield from structural_problems(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from structural_problems(node["items"], f"{path}[]")
    if isinstance(extra, dict):
        yield from structural_problems(extra, f"{path}{{}}")


@pytest.mark.parametrize("name", sorted(generate_crds()))
def test_schema_is_structural(name: str) -> None:
    assert list(structural_problems(openapi(generate_crds()[name]))) == []


def test_checker_finds_what_is_not_structural() -> None:
    bad: Schema = {"type": "object", "properties": {
        "a": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "b": {"type": "object", "properties": {"x": {"type": "string"}},
              "additionalProperties": True},
        "c": {"type": "array"},
    }}
    assert list(structural_problems(bad)) == [
        ".a: has anyOf", ".a: no type", ".b: properties and additionalProperties together",
        ".b: additionalProperties is a boolean", ".c: array without one items schema"]


class _Union(BaseModel):
    value: int | str


def test_a_real_union_is_refused() -> None:
    with pytest.raises(NotStructuralError, match="union of 2 types"):
        structural_schema(_Union)


def test_optional_fields_are_plain_and_unknown_step_keys_kept() -> None:
    step = structural_schema(Step)
    assert step[PRESERVE] is True
    assert step["properties"]["retries"] == {
        "type": "integer", "format": "int32", "minimum": 0, "maximum": 2**31 - 1}
    assert step["required"] == ["name", "kind"]
    assert "description" in step["properties"]["dependsOn"]


# --- what the issue asks the CRDs to carry ----------------------------------------

@pytest.mark.parametrize("max_steps", [MAX_STEPS, CEL_STEPS, 7])
def test_steps_are_bounded_at_max_steps(max_steps: int) -> None:
    spec = openapi(orchestration_crd(max_steps))["properties"]["spec"]
    steps = spec["properties"]["steps"]
    assert steps["maxItems"] == max_steps
    item = steps["items"]["properties"]
    assert item["name"]["maxLength"] == MAX_NAME_LENGTH
    assert item["dependsOn"]["maxItems"] == max_steps
    assert item["dependsOn"]["items"]["maxLength"] == MAX_NAME_LENGTH
    assert item["continueOnFailure"]["type"] == "boolean"
    rerun = openapi(orchestration_run_crd(max_steps))["properties"]["spec"]["properties"][
        "resumeFrom"]["properties"]["rerun"]
    assert rerun["maxItems"] == max_steps


def test_step_rules_only_where_the_apiserver_affords_them() -> None:
    """Up to CEL_STEPS the step rules refuse at admission (tests/e2e/
    test_crd_admission.py); at the chart's 10,000 their estimated cost is 10x to over
    100x the apiserver's budget, and the controller reports the same problems."""
    small = openapi(orchestration_crd(CEL_STEPS))["properties"]["spec"]["properties"]["steps"]
    assert len(small["x-kubernetes-validations"]) == 3
    assert all("messageExpression" in r for r in small["x-kubernetes-validations"])
    assert "x-kubernetes-validations" in small["items"]  # the `with` keys' rule
    big = openapi(orchestration_crd())["properties"]["spec"]["properties"]["steps"]
    assert "x-kubernetes-validations" not in big
    assert "x-kubernetes-validations" not in big["items"]


def test_every_run_spec_field_but_cancel_is_immutable() -> None:
    spec = openapi(orchestration_run_crd())["properties"]["spec"]
    guarded = {r["fieldPath"].lstrip("."): r for r in spec["x-kubernetes-validations"]}
    assert set(guarded) == set(spec["properties"]) - {"cancel"}
    assert {"orchestrationRef", "parameters", "deliveryId"} <= set(guarded)
    assert guarded["orchestrationRef"]["rule"] == (
        "self.orchestrationRef == oldSelf.orchestrationRef")  # required: always present
    assert "has(self.parameters) == has(oldSelf.parameters)" in guarded["parameters"]["rule"]
    assert all(r["reason"] == "FieldValueForbidden" and "only spec.cancel can" in r["message"]
               for r in guarded.values())


def test_a_field_added_to_the_run_spec_is_immutable_without_more_code() -> None:
    class Later(OrchestrationRunSpec):  # as issue 13 added spec.resumeFrom
        later_field: dict[str, str] | None = Field(None, alias="laterField")

    rules = immutable_field_rules(structural_schema(Later), MUTABLE_RUN_SPEC_FIELDS)
    assert [r["fieldPath"] for r in rules] == [
        ".orchestrationRef", ".parameters", ".deliveryId", ".resumeFrom", ".laterField"]


@pytest.mark.parametrize(("crd", "lists"), [
    pytest.param(orchestration_crd(), {"conditions": "type"}, id="orchestration"),
    pytest.param(orchestration_run_crd(), {"conditions": "type", "stepStatuses": "name"},
                 id="orchestrationrun"),
])
def test_status_lists_are_maps(crd: Schema, lists: dict[str, str]) -> None:
    status = openapi(crd)["properties"]["status"]["properties"]
    for field, key in lists.items():
        assert status[field]["x-kubernetes-list-type"] == "map"
        assert status[field]["x-kubernetes-list-map-keys"] == [key]
    assert version(crd)["subresources"] == {"status": {}}


@pytest.mark.parametrize(("crd", "columns"), [
    pytest.param(orchestration_crd(), ["Phase", "Ready", "Entrypoint", "Age"],
                 id="orchestration"),
    pytest.param(orchestration_run_crd(),
                 ["Phase", "Orchestration", "Steps", "Succeeded", "RunId", "Age"],
                 id="orchestrationrun"),
])
def test_printer_columns(crd: Schema, columns: list[str]) -> None:
    got = version(crd)["additionalPrinterColumns"]
    assert [c["name"] for c in got] == columns
    by_name = {c["name"]: c for c in got}
    assert by_name["Age"] == {"name": "Age", "type": "date",
                              "jsonPath": ".metadata.creationTimestamp"}
    if "Steps" in by_name:
        assert by_name["Steps"]["jsonPath"] == ".status.progress"


# --- names: `kubectl get orchestration` means Orchestrations only (contract §1) ----

def resource_words(crd: Schema) -> set[str]:
    """What kubectl resolves to this CRD's resource: plural, singular, short names,
    the kind (any case)."""
    names = crd["spec"]["names"]
    return {names["plural"], names["singular"], names["kind"].lower(),
            *names.get("shortNames", [])}


def foreign_crds() -> list[Schema]:
    """The other CRDs installed beside ours: Argo's and the reference system's
    (without its own Orchestration CRDs, which ours replace)."""
    paths = [*sorted((REPO.parent / "shared" / "reference" / "argo").rglob("*.yaml")),
             *sorted(REFERENCE_CRDS.glob("*.yaml"))]
    out = []
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if (isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
                    and doc["spec"]["group"] != "orchestration.proompteng.ai"):
                out.append(doc)
    return out


def test_no_category_is_a_resource_name() -> None:
    """kubectl expands a category before it resolves a name: a category that is
    also one of our kinds' names made `kubectl delete orchestration --all` delete
    every run (issue 21)."""
    ours = list(generate_crds().values())
    words = set().union(*(resource_words(c) for c in ours))
    categories = {cat for c in ours for cat in c["spec"]["names"].get("categories", [])}
    assert not categories & words, categories & words


def test_names_collide_with_no_other_installed_crd() -> None:
    needs_reference()
    ours = list(generate_crds().values())
    mine = set().union(*(resource_words(c) for c in ours),
                       *(c["spec"]["names"].get("categories", []) for c in ours))
    theirs = set().union(*(resource_words(c) | set(c["spec"]["names"].get("categories", []))
                           for c in foreign_crds()))
    assert len(foreign_crds()) >= 5
    assert not mine & theirs, mine & theirs
    run, orchestration = resource_words(orchestration_run_crd()), resource_words(
        orchestration_crd())
    assert not run & orchestration


# --- the reference system ----------------------------------------------------------

def reference_documents() -> list[Any]:
    if not JANGAR.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"reference system absent: {JANGAR}"), id="absent")]
    out = []
    for path in sorted(JANGAR.rglob("*.yaml")):
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError:
            continue
        for doc in list(docs):  # Chart.yaml holds examples in an annotation
            examples = (doc or {}).get("annotations", {}).get("artifacthub.io/crdsExamples")
            docs += yaml.safe_load(examples) if isinstance(examples, str) else []
        for i, doc in enumerate(docs):
            if isinstance(doc, dict) and doc.get("kind") in ("Orchestration",
                                                             "OrchestrationRun"):
                out.append(pytest.param(doc, id=f"{path.relative_to(JANGAR)}#{i}"))
    return out


@pytest.mark.parametrize("doc", reference_documents())
def test_reference_object_validates(doc: Schema) -> None:
    crd = orchestration_crd() if doc["kind"] == "Orchestration" else orchestration_run_crd()
    jsonschema.Draft4Validator(openapi(crd)).validate(doc)


def test_reference_documents_are_found() -> None:
    needs_reference()
    kinds = sorted(p.values[0]["kind"] for p in reference_documents())
    assert kinds.count("Orchestration") >= 4
    assert kinds.count("OrchestrationRun") >= 3


CONSTRAINTS = ("enum", "pattern", "format", "minimum", "maximum", "minLength", "maxLength",
               "minItems", "maxItems", "maxProperties", "x-kubernetes-list-type",
               "x-kubernetes-validations")
INT_FORMATS = {("int32", "int64")}  # ours wider than the reference's: not a tightening


def tightenings(ours: Schema, ref: Schema, path: str = "") -> Iterator[str]:
    """Where `ours` rejects something `ref` accepts, as `path: what`."""
    if ours.get(PRESERVE) and "properties" not in ours and "type" not in ours:
        return
    if ours.get("type") != ref.get("type") and ref.get("type") is not None:
        yield f"{path}: type {ours.get('type')} (reference {ref.get('type')})"
        return
    for key in CONSTRAINTS:
        if key in ours and ours[key] != ref.get(key):
            if key == "format" and (ref.get(key), ours[key]) in INT_FORMATS:
                continue
            if key == "format" and key not in ref:
                yield f"{path}: format {ours[key]}"
                continue
            if key != "format":
                yield f"{path}: {key}"
    for name in sorted(set(ours.get("required", [])) - set(ref.get("required", []))):
        yield f"{path}: requires {name}"
    ref_open = ref.get(PRESERVE) or isinstance(ref.get("additionalProperties"), dict)
    ours_open = ours.get(PRESERVE) or isinstance(ours.get("additionalProperties"), dict)
    if ref_open and not ours_open:
        yield f"{path}: prunes unknown fields"
    for name, sub in ref.get("properties", {}).items():
        if name in ours.get("properties", {}):
            yield from tightenings(ours["properties"][name], sub, f"{path}.{name}")
        elif not ours.get(PRESERVE):
            yield f"{path}.{name}: unknown (pruned)"
    if "items" in ref and "items" in ours:
        yield from tightenings(ours["items"], ref["items"], f"{path}[]")
    if isinstance(ref.get("additionalProperties"), dict) and isinstance(
            ours.get("additionalProperties"), dict):
        yield from tightenings(ours["additionalProperties"], ref["additionalProperties"],
                               f"{path}{{}}")


# Every way ours is stricter than the reference, each an object the contract calls
# invalid (or status only the controller writes). A new tightening fails the test.
EXPECTED_TIGHTENINGS = {
    "orchestrations": [
        ": requires spec",  # no spec: MissingSteps
        ".spec.steps: maxItems",  # over maxSteps (10,000): TooManySteps (contract §8)
        ".spec.steps[].name: maxLength",  # over 128: InvalidStepName
        ".spec.steps[].dependsOn: maxItems",  # over maxSteps entries: a duplicate or unknown
        ".spec.steps[].dependsOn[]: maxLength",  # over 128: names no step
        ".spec.steps[].agentRef: requires name",  # MissingStepField
        ".spec.steps[].toolRef: requires name",
        ".spec.steps[].orchestrationRef: requires name",
        # not an object name: InvalidField, refused before any request (issue 22.11)
        ".spec.steps[].agentRef.name: pattern",
        ".spec.steps[].agentRef.name: maxLength",
        ".spec.steps[].toolRef.name: pattern",
        ".spec.steps[].toolRef.name: maxLength",
        ".spec.steps[].orchestrationRef.name: pattern",
        ".spec.steps[].orchestrationRef.name: maxLength",
        ".spec.steps[].policyRef: pattern",
        ".spec.steps[].policyRef: maxLength",
        ".spec.steps[].retries: minimum",  # negative: InvalidField
        ".spec.steps[].retries: maximum",  # over int32: the reference's own format
        ".spec.steps[].retryBackoffSeconds: minimum",
        ".spec.steps[].retryBackoffSeconds: maximum",
        ".spec.steps[].timeoutSeconds: minimum",
        ".spec.steps[].timeoutSeconds: maximum",
        ".spec.steps[].with: maxProperties",  # over 1000: the bound a rule's cost needs
        ".status.conditions: x-kubernetes-list-type",  # status: one condition per type
        ".status.conditions[].status: enum",  # status: True/False/Unknown
    ],
    "orchestrationruns": [
        ": requires spec",
        ".spec: x-kubernetes-validations",  # immutable once created, but cancel (§5)
        ".spec.parameters: x-kubernetes-validations",  # names: InvalidField (issue 9)
        ".spec.orchestrationRef.name: pattern",  # not an object name (issue 22.11)
        ".spec.orchestrationRef.name: maxLength",
        ".status.stepStatuses: x-kubernetes-list-type",  # status: one entry per step
        ".status.conditions: x-kubernetes-list-type",
        ".status.conditions[].status: enum",
    ],
}


@pytest.mark.parametrize("plural", sorted(EXPECTED_TIGHTENINGS))
def test_stricter_than_reference_only_where_the_contract_says_invalid(plural: str) -> None:
    needs_reference()
    ref_crd = yaml.safe_load(
        (REFERENCE_CRDS / f"orchestration.proompteng.ai_{plural}.yaml").read_text())
    ours = generate_crds()[f"orchestration.proompteng.ai_{plural}.yaml"]
    found = list(tightenings(openapi(ours), openapi(ref_crd)))
    assert sorted(found) == sorted(EXPECTED_TIGHTENINGS[plural])
    ref_columns = {c["name"]: c["jsonPath"] for c in version(ref_crd)["additionalPrinterColumns"]}
    our_columns = {c["name"]: c["jsonPath"] for c in version(ours)["additionalPrinterColumns"]}
    assert ref_columns.items() <= our_columns.items()


def test_tightenings_checker_sees_a_tightening() -> None:
    ref: Schema = {"type": "object", "properties": {"a": {"type": "string"},
                                                    "b": {"type": "string"}}}
    ours: Schema = {"type": "object", "required": ["a"],
                    "properties": {"a": {"type": "string", "maxLength": 3}}}
    assert list(tightenings(ours, ref)) == [": requires a", ".a: maxLength",
                                            ".b: unknown (pruned)"]
