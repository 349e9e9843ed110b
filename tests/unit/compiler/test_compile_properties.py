"""Property-based tests of the compiler over random DAGs and random breakage."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.diagnostics import Collector
from compiler.emit import EmitSettings, emit_workflow
from compiler.inputs import parse_text
from compiler.outcome import is_outcome_task
from compiler.render import to_yaml
from compiler.tools import Tool
from orchapi.vocabulary import Reason
from tests.unit.compiler.strategies import NAME, dags, orchestration

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# The Tool the strategies' ToolRun steps name.
TOOL = Tool.model_validate({"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
                            "metadata": {"name": "tool"},
                            "spec": {"image": "alpine", "args": ["run"]}})


def compile_doc(doc: dict[str, Any]) -> tuple[dict[str, Any] | None, list[Any]]:
    parsed = parse_text(yaml.safe_dump(doc, sort_keys=False), "random.yaml")
    if not parsed.ok:
        return None, parsed.diagnostics
    ((_, orch),) = parsed.orchestrations
    out = Collector()
    workflow = emit_workflow(orch, out=out, settings=EmitSettings(tools={"tool": TOOL})).workflow
    problems = [*parsed.diagnostics, *out.items]
    return (None if any(d.is_error for d in out.items) else workflow), problems


def reasons(doc: dict[str, Any]) -> set[str]:
    _workflow, diagnostics = compile_doc(doc)
    return {str(d.reason) for d in diagnostics if d.is_error}


@SETTINGS
@given(dags())
def test_tasks_match_steps_exactly(doc: dict[str, Any]) -> None:
    workflow, _ = compile_doc(doc)
    assert workflow is not None
    steps = doc["spec"]["steps"]
    tasks = workflow["spec"]["templates"][0]["dag"]["tasks"]
    # after the steps' tasks, the outcome task exactly when a leaf is best-effort
    # (compiler.outcome; the strategy draws fewer than 200 steps)
    if any(is_outcome_task(t) for t in tasks):
        final = tasks.pop()
        assert is_outcome_task(final)
    else:
        final = None
    depended = {d for t in tasks for d in t.get("dependencies", [])}
    leaves = [t["name"] for t in tasks if t["name"] not in depended]
    if any(s.get("continueOnFailure") and s["name"] in leaves for s in steps):
        assert final is not None and final["dependencies"] == leaves
    else:
        assert final is None
    assert [t["name"] for t in tasks] == [s["name"] for s in steps]
    sequential = not any("dependsOn" in s for s in steps)
    for i, (step, task) in enumerate(zip(steps, tasks, strict=True)):
        if sequential:
            expected = [steps[i - 1]["name"]] if i else []
        else:
            expected = step.get("dependsOn", [])
        assert task.get("dependencies", []) == expected
        assert task.get("continueOn") == (
            {"failed": True} if step.get("continueOnFailure") else None
        )
        assert "depends" not in task  # one dependency style per DAG


@SETTINGS
@given(dags())
def test_compiling_twice_gives_identical_bytes(doc: dict[str, Any]) -> None:
    first, _ = compile_doc(doc)
    second, _ = compile_doc(copy.deepcopy(doc))
    assert first is not None and second is not None
    assert to_yaml([first]).encode() == to_yaml([second]).encode()
    assert json.dumps(first) == json.dumps(second)


@SETTINGS
@given(dags(min_steps=2), st.data())
def test_any_cycle_is_reported_as_one_dependency_cycle(
    doc: dict[str, Any], data: st.DataObject
) -> None:
    steps = doc["spec"]["steps"]
    length = data.draw(st.integers(2, len(steps)))
    members = data.draw(st.permutations([s["name"] for s in steps]))[:length]
    by_name = {s["name"]: s for s in steps}
    for a, b in zip(members, members[1:] + members[:1], strict=True):
        deps = by_name[a].setdefault("dependsOn", [])
        if b not in deps:
            deps.append(b)
    workflow, diagnostics = compile_doc(doc)
    assert workflow is None
    cycles = [d for d in diagnostics if d.reason == Reason.DEPENDENCY_CYCLE]
    assert cycles, [d.text for d in diagnostics]
    named = {n for d in cycles for n in d.names}
    assert named & set(members)
    assert all(d.reason == Reason.DEPENDENCY_CYCLE for d in diagnostics if d.is_error)


@SETTINGS
@given(dags(), st.data())
def test_unknown_dependency_is_missing_dependency(doc: dict[str, Any], data: st.DataObject) -> None:
    steps = doc["spec"]["steps"]
    names = {s["name"] for s in steps}
    ghost = data.draw(NAME.filter(lambda n: n not in names))
    target = data.draw(st.sampled_from(steps))
    target.setdefault("dependsOn", []).append(ghost)
    assert reasons(doc) == {"MissingDependency"}


@SETTINGS
@given(dags(), st.data())
def test_self_dependency_is_invalid_dependency_not_a_cycle(
    doc: dict[str, Any], data: st.DataObject
) -> None:
    target = data.draw(st.sampled_from(doc["spec"]["steps"]))
    target.setdefault("dependsOn", []).append(target["name"])
    assert reasons(doc) == {"InvalidDependency"}


@SETTINGS
@given(dags(), st.data())
def test_duplicate_name_is_duplicate_step(doc: dict[str, Any], data: st.DataObject) -> None:
    steps = doc["spec"]["steps"]
    clone = copy.deepcopy(data.draw(st.sampled_from(steps)))
    clone.pop("dependsOn", None)
    steps.insert(data.draw(st.integers(0, len(steps))), clone)
    assert "DuplicateStep" in reasons(doc)


BAD_NAMES = st.one_of(
    st.from_regex(r"[0-9_][a-z0-9]{0,5}", fullmatch=True),
    st.from_regex(r"[a-z]+[_. /:][a-z]+", fullmatch=True),
    st.sampled_from(["in", "and", "true", "nil", "x" * 129]),
)


@SETTINGS
@given(dags(), BAD_NAMES, st.data())
def test_bad_name_is_invalid_step_name(doc: dict[str, Any], bad: str, data: st.DataObject) -> None:
    step = data.draw(st.sampled_from(doc["spec"]["steps"]))
    for other in doc["spec"]["steps"]:
        if step["name"] in other.get("dependsOn", []):
            other["dependsOn"] = [bad if d == step["name"] else d for d in other["dependsOn"]]
    step["name"] = bad
    assert "InvalidStepName" in reasons(doc)


WRONG_VALUES = {
    "dependsOn": st.one_of(
        st.text(max_size=5), st.integers(), st.dictionaries(NAME, NAME, max_size=2)
    ),
    "continueOnFailure": st.one_of(st.text(max_size=5), st.integers(2, 9)),
    "retries": st.one_of(st.text(max_size=3), st.integers(max_value=-1), st.booleans()),
    "timeoutSeconds": st.one_of(st.text(max_size=3), st.floats(allow_nan=False)),
    "with": st.one_of(st.lists(NAME, max_size=2), st.dictionaries(NAME, st.integers(), min_size=1)),
    "name": st.one_of(st.integers(), st.lists(NAME, min_size=1, max_size=2)),
}


@SETTINGS
@given(dags(), st.sampled_from(sorted(WRONG_VALUES)), st.data())
def test_wrong_types_are_invalid_field(
    doc: dict[str, Any], field: str, data: st.DataObject
) -> None:
    step = data.draw(st.sampled_from(doc["spec"]["steps"]))
    step[field] = data.draw(WRONG_VALUES[field])
    found = reasons(doc)
    assert "InvalidField" in found, found


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_arbitrary_documents_never_crash(value: Any) -> None:
    """Any YAML value, bare or as a step list, gives diagnostics, never an exception."""
    for doc in (value, orchestration(value if isinstance(value, list) else [value])):
        text = yaml.safe_dump(doc)
        parsed = parse_text(text, "fuzz.yaml")
        if parsed.ok:
            for _, orch in parsed.orchestrations:
                emit_workflow(orch)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text: str) -> None:
    parse_text(text, "fuzz.yaml")
