"""SubOrchestration cycles (contract §2): the pure rule over "name -> names it
calls", which the CLI and (issue 11) the controller share."""

from __future__ import annotations

from itertools import pairwise

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.inputs import pair_runs, parse_text
from compiler.suborchestrations import find_call_cycles


@pytest.mark.parametrize(("calls", "cycles"), [
    pytest.param({"a": []}, [], id="no-calls"),
    pytest.param({"a": ["a"]}, [["a", "a"]], id="self:  a -> a"),
    pytest.param({"a": ["b"], "b": ["a"]}, [["a", "b", "a"]], id="pair:  a -> b -> a"),
    pytest.param({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}, [["a", "b", "c", "a"]],
                 id="ring:  a -> b -> c -> a, d outside"),
    pytest.param({"a": ["b", "b"], "b": []}, [], id="one callee twice is no cycle"),
    pytest.param({"a": ["x"], "x": []}, [], id="diamond-free chain"),
    pytest.param({"a": ["missing"]}, [], id="callee not in the input"),
    pytest.param({"a": ["b"], "b": ["a"], "c": ["c"]}, [["a", "b", "a"], ["c", "c"]],
                 id="two components, in input order"),
])
def test_find_call_cycles(calls: dict[str, list[str]], cycles: list[list[str]]) -> None:
    assert find_call_cycles(calls) == cycles


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdef"), st.lists(st.sampled_from("abcdefg"),
                                                             max_size=3), max_size=6))
def test_a_cycle_is_reported_iff_some_name_reaches_itself(calls: dict[str, list[str]]) -> None:
    def reaches_itself(start: str) -> bool:
        seen, todo = set(), list(calls.get(start, []))
        while todo:
            name = todo.pop()
            if name == start:
                return True
            if name not in seen and name in calls:
                seen.add(name)
                todo.extend(calls[name])
        return False

    cycles = find_call_cycles(calls)
    assert bool(cycles) == any(reaches_itself(n) for n in calls)
    for path in cycles:  # each path follows real calls and closes
        assert path[0] == path[-1]
        assert all(b in calls[a] for a, b in pairwise(path))


def _orch(name: str, *calls: str) -> dict[str, object]:
    steps = [{"name": f"s{i}", "kind": "SubOrchestration", "orchestrationRef": {"name": c}}
             for i, c in enumerate(calls)] or [{"name": "s", "kind": "Checkpoint"}]
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
            "metadata": {"name": name}, "spec": {"steps": steps}}


def test_the_cli_input_is_checked_across_documents() -> None:
    parsed = parse_text(yaml.safe_dump_all([_orch("a", "b"), _orch("b", "c", "a"),
                                            _orch("c")]), "t.yaml")
    pair_runs(parsed)
    (found,) = [d for d in parsed.diagnostics if d.is_error]
    assert (str(found.reason), str(found.path), found.names) == (
        "SubOrchestrationCycle", "spec.steps[0].orchestrationRef.name", ("a", "b"))
    assert found.span is not None and found.span.line is not None


def test_each_child_carries_its_steps_share_of_the_descendant_budget() -> None:
    """What the controller compiles (issue 22.5): one template for every step, the
    share a task argument, the child's annotation read from it; `orch compile`
    (no budget known) emits neither, as before."""
    from compiler.emit import EmitSettings, emit_workflow
    from orchapi.models import Orchestration

    orch = Orchestration.model_validate({
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
        "metadata": {"name": "o"}, "spec": {"steps": [
            {"name": "x", "kind": "SubOrchestration", "orchestrationRef": {"name": "a"}},
            {"name": "y", "kind": "SubOrchestration", "orchestrationRef": {"name": "b"}}]}})
    wf = emit_workflow(orch, settings=EmitSettings(descendants={"x": 3, "y": 11})).workflow
    subs = [t for t in wf["spec"]["templates"] if "resource" in t]
    assert len(subs) == 1
    manifest = yaml.safe_load(subs[0]["resource"]["manifest"].replace("{{", "<").replace(
        "}}", ">"))
    assert manifest["metadata"]["annotations"] == {
        "orchestration.proompteng.ai/depth": "1",
        "orchestration.proompteng.ai/descendants": "<inputs.parameters.descendants>"}
    tasks = wf["spec"]["templates"][0]["dag"]["tasks"]
    assert [{p["name"]: p["value"] for p in t["arguments"]["parameters"]}["descendants"]
            for t in tasks] == ["3", "11"]
    offline = emit_workflow(orch).workflow
    assert "descendants" not in str(offline)
