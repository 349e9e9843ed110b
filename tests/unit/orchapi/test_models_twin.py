"""The records (`orchapi.models`, `compiler.tools`) and their pydantic twins
(`orchapi.schema`, `compiler.tool_schema`) are one schema: the same fields, keys
and defaults, and on any document a record reads exactly what its twin accepts,
into the same values. A record that accepted something its twin refuses would
compile what `orch validate` used to reject; one that refused a valid document
would only be slow (pydantic judges it), and is caught here too."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import compiler.tool_schema
import compiler.tools
import orchapi.models
import orchapi.schema
from compiler.source import Document, iter_documents
from orchapi.records import REQUIRED, Factory, Record, UnsureError
from tests.golden import VALID

PAIRS: list[tuple[type[Record], type[BaseModel]]] = [
    *((cls, getattr(orchapi.schema, name)) for name, cls in vars(orchapi.models).items()
      if isinstance(cls, type) and issubclass(cls, Record) and cls.__module__ == "orchapi.models"),
    *((cls, getattr(compiler.tool_schema, name)) for name, cls in vars(compiler.tools).items()
      if isinstance(cls, type) and issubclass(cls, Record)
      and cls.__module__ == "compiler.tools"),
]
TOP: dict[str, type[Record]] = {"Orchestration": orchapi.models.Orchestration,
                                "OrchestrationRun": orchapi.models.OrchestrationRun,
                                "Tool": compiler.tools.Tool}


def test_every_pydantic_model_has_its_record() -> None:
    twins = {t for _, t in PAIRS}
    for module in (orchapi.schema, compiler.tool_schema):
        for name, model in vars(module).items():
            if isinstance(model, type) and issubclass(model, BaseModel) and not name.startswith(
                    "_") and model.__module__ == module.__name__:
                assert model in twins, name
    assert len(PAIRS) == 21


@pytest.mark.parametrize(("record", "twin"), PAIRS, ids=lambda c: c.__name__)
def test_the_fields_are_the_twins(record: type[Record], twin: type[BaseModel]) -> None:
    """Names and order, JSON keys, required or default, and how keys are read."""
    assert f"{twin.__module__}:{twin.__name__}" == record.TWIN
    assert bool(twin.model_config.get("populate_by_name")) == record.BY_NAME
    assert twin.model_config.get("extra") == "allow" and twin.model_config.get("strict")
    assert [f.name for f in record.FIELDS] == list(twin.model_fields)
    for spec in record.FIELDS:
        info = twin.model_fields[spec.name]
        assert spec.alias == (info.alias or spec.name), spec.name
        assert (spec.default is REQUIRED) == info.is_required(), spec.name
        if isinstance(spec.default, Factory):
            assert info.default_factory is not None
            made = info.default_factory()  # type: ignore[call-arg]
            assert spec.default.make() == type(spec.default.make()).from_twin(made)
        elif spec.default is not REQUIRED:
            assert spec.default == info.default, spec.name


def _seeds() -> Iterator[tuple[str, Any]]:
    """Every object of the valid goldens, as the compiler reads them (the items of a
    List too), and a run and an Orchestration with every status field."""
    for path in sorted(VALID.glob("*.yaml")):
        if path.name.endswith(".argo.yaml"):
            continue
        for doc in iter_documents(path.read_text(), str(path)):
            if not isinstance(doc, Document) or not isinstance(doc.data, dict):
                continue
            for item in doc.data.get("items") or [doc.data]:
                if isinstance(item, dict) and item.get("kind") in TOP:
                    yield str(item["kind"]), item
    yield "OrchestrationRun", _FULL_RUN
    yield "Orchestration", _FULL_ORCHESTRATION


_FULL_RUN: dict[str, Any] = {
    "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
    "metadata": {"name": "r", "namespace": "n", "generateName": "r-", "uid": "u",
                 "generation": 3, "labels": {"a": "b"}, "annotations": {"c": "d"},
                 "resourceVersion": "7"},
    "spec": {"orchestrationRef": {"name": "o"}, "parameters": {"p": "v"}, "deliveryId": "d",
             "resumeFrom": {"name": "old", "rerun": ["a"]}, "cancel": False},
    "status": {
        "observedGeneration": 1, "orchestrationGeneration": 2, "phase": "Running",
        "runId": "id", "updatedAt": "t", "progress": "1/2", "startedAt": "t",
        "finishedAt": None, "workflowRef": {"name": "w", "namespace": "n", "uid": "u"},
        "stepStatuses": [{"name": "a", "kind": "Container", "phase": "Succeeded",
                          "reason": "Completed", "message": "m", "startedAt": "t",
                          "finishedAt": "t", "attempt": 1, "failedPodRestarts": 0,
                          "lastTransitionTime": "t", "nextRetryAt": None,
                          "resourceRef": {"apiVersion": "v", "kind": "k", "name": "n",
                                          "namespace": "s", "uid": "u"},
                          "outputs": {"x": [1, {"y": None}]}, "extra": {"kept": None}}],
        "stepCounts": [{"phase": "Succeeded", "reason": None, "count": 2}],
        "conditions": [{"type": "Ready", "status": "True", "reason": "r", "message": "m",
                        "observedGeneration": 1, "lastTransitionTime": "t"}],
        "seal": "s"},
}
_FULL_ORCHESTRATION: dict[str, Any] = {
    "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
    "metadata": {"name": "o"},
    "spec": {"entrypoint": "main", "policies": {"retries": {"limit": 1}},
             "steps": [{"name": "a", "kind": "Template", "dependsOn": [],
                        "continueOnFailure": True, "retries": 2, "retryBackoffSeconds": 3,
                        "timeoutSeconds": 4, "with": {"k": "v"}, "agentRef": {"name": "g"},
                        "toolRef": {"name": "t", "x": 1}, "orchestrationRef": {"name": "o"},
                        "policyRef": "p", "image": "i", "command": ["c"], "args": ["a"],
                        "env": [{"name": "E", "value": "v", "valueFrom": {"k": None}}],
                        "templateRef": {"name": "w", "template": "t", "clusterScope": True},
                        "runtime": None}]},
    "status": {"observedGeneration": 1, "phase": "Ready", "updatedAt": "t",
               "conditions": [{"type": "Ready", "status": "False"}]},
}
SEEDS = list(_seeds())

# What a mutation writes: every type the YAML reader and the apiserver give, at
# the edges of the bounds the schema states.
HOSTILE: list[Any] = [
    None, True, False, 0, -1, 1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 70, 1.0, 0.5, "",
    "x", "True", "Unknown", "1", "x" * 128, "x" * 129, "x" * 253, "x" * 254, [], ["a"], [1],
    [None], ["a", 1], {}, {"a": "b"}, {"a": 1}, {1: "a"}, {True: "a"}, {"name": "n"},
    {"name": 1}, {"a": None}, ["x"] * 1001, {str(i): "v" for i in range(1001)},
    "orchestration.proompteng.ai/v1alpha1", "tools.proompteng.ai/v1alpha1",
]
KEYS: list[Any] = ["depends_on", "dependsOn", "with_", "with", "service_account",
                   "serviceAccount", "api_version", "cluster_scope", "name", "kind", "spec",
                   "metadata", "status", "extra", "", 1, True, None]


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:5]):
            yield from _paths(v, (*at, i))


def _mutate(doc: Any, draw: st.DataObject) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(draw.draw(st.integers(1, 3), label="mutations")):
        path = draw.draw(st.sampled_from(list(_paths(doc))), label="path")
        if not path:
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
        if action == "replace":
            parent[path[-1]] = copy.deepcopy(draw.draw(st.sampled_from(HOSTILE), label="value"))
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            key = draw.draw(st.sampled_from(KEYS), label="key")
            parent[key] = copy.deepcopy(draw.draw(st.sampled_from(HOSTILE), label="value"))
    return doc


def _agree(record: type[Record], data: Any) -> bool:
    """The record reads `data` iff its twin accepts it, into the same values; True
    when it reads it."""
    twin = getattr(__import__(record.TWIN.split(":")[0], fromlist=["_"]),
                   record.TWIN.split(":")[1])
    try:
        made = twin.model_validate(data)
    except ValidationError:
        made = None
    try:
        mine = record.read(data)
    except UnsureError:
        assert made is None, f"the record refused what its twin accepts: {data!r}"
        return False
    assert made is not None, f"the record accepted what its twin refuses: {data!r}"
    assert mine == record.from_twin(made)
    assert mine.model_dump(by_alias=True, exclude_none=True) == made.model_dump(
        by_alias=True, exclude_none=True)
    return True


@pytest.mark.parametrize(("kind", "doc"), SEEDS, ids=lambda x: x if isinstance(x, str) else "")
def test_every_valid_golden_is_read_without_its_twin(kind: str, doc: Any) -> None:
    assert _agree(TOP[kind], doc)
    assert TOP[kind].model_validate(doc) == TOP[kind].read(doc)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_a_record_reads_exactly_what_its_twin_accepts(seed: tuple[str, Any],
                                                      data: st.DataObject) -> None:
    _, doc = seed
    mutated = _mutate(doc, data)
    for record in TOP.values():  # each kind of document, read as every kind
        _agree(record, mutated)


def test_what_the_twin_accepts_and_the_record_is_unsure_of_is_copied() -> None:
    """A document outside the YAML and JSON types (a str subclass) is read by the
    twin and copied into records: never refused, never different."""

    class Name(str):
        pass

    doc = copy.deepcopy(_FULL_ORCHESTRATION)
    doc["metadata"]["name"] = Name("o")
    with pytest.raises(UnsureError):
        orchapi.models.Orchestration.read(doc)
    made = orchapi.models.Orchestration.model_validate(doc)
    assert made.metadata.name == "o"
    assert made.spec.steps[0].extras == {"runtime": None}
    assert made.spec.steps[0].template_ref == orchapi.models.TemplateRef.read(
        {"name": "w", "template": "t", "clusterScope": True})


def test_a_step_dump_is_pydantics() -> None:
    """What the kinds read a step through (`Step.model_dump(by_alias=True,
    exclude_none=True)`): nulls left out of records, kept inside plain mappings."""
    step = _FULL_ORCHESTRATION["spec"]["steps"][0]
    dumped = orchapi.models.Step.read(step).model_dump(by_alias=True, exclude_none=True)
    assert dumped == orchapi.schema.Step.model_validate(step).model_dump(
        by_alias=True, exclude_none=True)
    assert "runtime" not in dumped and dumped["env"][0]["valueFrom"] == {"k": None}

