"""What refuses a run before its Workflow exists (controller.admission)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.admission import (
    calls_of_object,
    depth_refusal,
    disallowed_kinds,
    kinds_message,
    namespace_calls,
    reachable_cycle,
    reference_refusal,
    run_depth,
)


def orch(name: str, *calls: str, **other: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [
        {"name": f"s{i}", "kind": "SubOrchestration", "orchestrationRef": {"name": c}}
        for i, c in enumerate(calls)]
    steps += [{"name": step, "kind": kind} for step, kind in other.items()]
    return {"metadata": {"name": name}, "spec": {"steps": steps}}


#   a -> b -> c      d -> d      e -> f -> e      g -> e
@pytest.mark.parametrize(("start", "cycle"), [
    pytest.param("a", None, id="chain-ends"),
    pytest.param("d", ["d", "d"], id="self-call"),
    pytest.param("e", ["e", "f", "e"], id="two-cycle"),
    pytest.param("g", ["e", "f", "e"], id="reaches-a-cycle"),
    pytest.param("missing", None, id="not-in-the-namespace"),
])
def test_reachable_cycle(start: str, cycle: list[str] | None) -> None:
    calls = namespace_calls([orch("a", "b"), orch("b", "c"), orch("c"), orch("d", "d"),
                             orch("e", "f"), orch("f", "e"), orch("g", "e"), orch("h", "x")])
    assert reachable_cycle(start, calls.get) == cycle


def test_calls_are_read_leniently() -> None:
    obj = {"metadata": {"name": "o"}, "spec": {"steps": [
        {"kind": "SubOrchestration", "orchestrationRef": "plain"},
        {"kind": "SubOrchestration", "orchestrationRef": {"name": "ref"}},
        {"kind": "SubOrchestration"}, "not-a-step", {"kind": "Container"}]}}
    assert calls_of_object(obj) == ["plain", "ref"]
    assert calls_of_object({"spec": {"steps": "no"}}) == []


NAMES = st.sampled_from("abcdef")


@given(st.dictionaries(NAMES, st.lists(NAMES, max_size=3), max_size=6), NAMES)
def test_a_reported_cycle_is_real_and_reachable(calls: dict[str, list[str]], start: str) -> None:
    cycle = reachable_cycle(start, calls.get)
    # reachable set by brute force
    seen, todo = {start}, [start]
    while todo:
        for c in calls.get(todo.pop(), ()):
            if c in calls and c not in seen:
                seen.add(c)
                todo.append(c)
    if cycle is None:
        # no name reachable from `start` reaches itself again
        for name in seen:
            stack, visited = list(calls.get(name, ())), set()
            while stack:
                n = stack.pop()
                assert n != name or n not in calls, (name, calls)
                if n in calls and n not in visited:
                    visited.add(n)
                    stack.extend(calls[n])
        return
    assert cycle[0] == cycle[-1] and set(cycle) <= seen
    for a, b in pairwise(cycle):
        assert b in calls[a]


@pytest.mark.parametrize(("annotations", "depth", "refused"), [
    pytest.param(None, 0, False, id="a-persons-run"),
    pytest.param({"orchestration.proompteng.ai/depth": "8"}, 8, False, id="at-the-limit"),
    pytest.param({"orchestration.proompteng.ai/depth": "9"}, 9, True, id="past-the-limit"),
    pytest.param({"orchestration.proompteng.ai/depth": "-1"}, None, True, id="negative"),
    pytest.param({"orchestration.proompteng.ai/depth": "٣"}, None, True, id="non-ascii-digit"),
    pytest.param({"orchestration.proompteng.ai/depth": "1e3"}, None, True, id="not-a-number"),
])
def test_depth(annotations: dict[str, str] | None, depth: int | None, refused: bool) -> None:
    run = {"metadata": {"name": "r", **({"annotations": annotations} if annotations else {})}}
    assert run_depth(run) == depth
    assert (depth_refusal(run, 8) is not None) is refused


def test_allowed_kinds() -> None:
    o = orch("o", "child", build="Container", ship="AgentRun")
    assert disallowed_kinds(o, None) == []
    allowed = frozenset({"AgentRun", "SubOrchestration"})
    assert disallowed_kinds(o, allowed) == [("build", "Container")]
    message = kinds_message(disallowed_kinds(o, allowed), allowed)
    assert message == ('this install allows only AgentRun, SubOrchestration steps '
                       '(allowedStepKinds); the Orchestration has "build" (Container)')


# -- references are object names (issue 22.11, contract §6) ---------------------------
def _run(ref: Any, resume: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"orchestrationRef": {"name": ref}}
    if resume is not None:
        spec["resumeFrom"] = {"name": resume}
    return {"metadata": {"name": "r"}, "spec": spec}


@pytest.mark.parametrize(("run", "path"), [
    pytest.param(_run("build"), None, id="a-name"),
    pytest.param(_run("team.build-2", "run-1.a"), None, id="subdomain-names"),
    pytest.param(_run("."), "spec.orchestrationRef.name", id="dot-would-list"),
    pytest.param(_run("victim/release"), "spec.orchestrationRef.name",
                 id="slash-would-read-a-subresource"),
    pytest.param(_run(""), "spec.orchestrationRef.name", id="empty"),
    pytest.param(_run("Build"), "spec.orchestrationRef.name", id="upper-case"),
    pytest.param(_run("a" * 254), "spec.orchestrationRef.name", id="too-long"),
    pytest.param(_run(7), "spec.orchestrationRef.name", id="not-a-string"),
    pytest.param(_run("ok", "."), "spec.resumeFrom.name", id="resume-from-dot"),
    pytest.param(_run("ok", "victim/status"), "spec.resumeFrom.name",
                 id="resume-from-a-subresource"),
])
def test_reference_refusal(run: dict[str, Any], path: str | None) -> None:
    refused = reference_refusal(run)
    if path is None:
        assert refused is None
    else:
        assert refused is not None
        assert refused[0] == "InvalidField"
        assert refused[1].startswith(path + " ")

