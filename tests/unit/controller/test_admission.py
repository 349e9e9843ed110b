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


# -- descendants: a budget per root run, carried down (issue 22.5) ---------------------
from controller.admission import (  # noqa: E402
    ChildSlot,
    child_slots,
    descendant_need,
    descendants_refusal,
    run_budget,
    share_budget,
)

BUDGET = "orchestration.proompteng.ai/descendants"


def fanout(name: str, calls: str | None, n: int, retries: int | None = None) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [
        {"name": f"c{i}", "kind": "SubOrchestration", "orchestrationRef": {"name": calls},
         **({"retries": retries} if retries is not None else {})}
        for i in range(n)] if calls else []
    return {"metadata": {"name": name}, "spec": {"steps": steps or [
        {"name": "leaf", "kind": "Checkpoint"}]}}


@pytest.mark.parametrize(("annotations", "budget"), [
    pytest.param(None, 1000, id="a-root-has-the-install-budget"),
    pytest.param({BUDGET: "7"}, 7, id="a-child-its-share"),
    pytest.param({BUDGET: "5000"}, 1000, id="never-more-than-the-install-allows"),
    pytest.param({BUDGET: "-1"}, None, id="negative"),
    pytest.param({BUDGET: "1e3"}, None, id="not-a-number"),
])
def test_run_budget(annotations: dict[str, str] | None, budget: int | None) -> None:
    run = {"metadata": {"name": "r", **({"annotations": annotations} if annotations else {})}}
    assert run_budget(run, 1000) == budget


def test_child_slots_count_every_attempt() -> None:
    o = fanout("o", "x", 2, retries=3)
    o["spec"]["steps"].append({"name": "plain", "kind": "SubOrchestration",
                               "orchestrationRef": "y"})
    assert child_slots(o) == [ChildSlot("c0", "x", 4), ChildSlot("c1", "x", 4),
                              ChildSlot("plain", "y", 1)]
    o["spec"]["policies"] = {"retries": {"limit": 2}}  # the default of a step without
    assert [s.attempts for s in child_slots(o)] == [4, 4, 3]


def test_descendant_need() -> None:
    orchs = {"a": fanout("a", "b", 2), "b": fanout("b", "c", 3), "c": fanout("c", None, 0)}
    root = fanout("root", "a", 1)
    assert descendant_need(root, orchs.get, 1000) == {"c0": 2 * (1 + 3)}
    assert descendant_need(root, orchs.get, 5) == {"c0": 5}  # capped
    assert descendant_need(fanout("r", "missing", 2), orchs.get, 1000) == {"c0": 0, "c1": 0}


@pytest.mark.parametrize(("budget", "slots", "needs", "shares"), [
    pytest.param(10, [("a", 1)], {"a": 3}, {"a": 9}, id="one-child-gets-the-rest"),
    pytest.param(9, [("a", 1), ("b", 1), ("c", 1)], {"a": 0, "b": 0, "c": 7}, {
        "a": 0, "b": 0, "c": 6}, id="needs-first-leaves-need-nothing"),
    pytest.param(20, [("a", 1), ("b", 1), ("c", 1)], {"a": 0, "b": 0, "c": 7}, {
        "a": 5, "b": 5, "c": 7}, id="then-room-to-the-least-served"),
    pytest.param(8, [("a", 1), ("b", 1), ("c", 1)], {"a": 9, "b": 9, "c": 9}, {
        "a": 2, "b": 2, "c": 1}, id="oversubscribed-max-min-fair"),
    pytest.param(8, [("a", 3), ("b", 1)], {"a": 1, "b": 9}, {"a": 1, "b": 1},
                 id="each-attempt-gets-the-share"),
    pytest.param(2, [("a", 1), ("b", 1), ("c", 1)], {}, None, id="the-children-do-not-fit"),
])
def test_share_budget(budget: int, slots: list[tuple[str, int]], needs: dict[str, int],
                      shares: dict[str, int] | None) -> None:
    assert share_budget(budget, [ChildSlot(s, None, a) for s, a in slots], needs) == shares


@given(st.integers(0, 300), st.lists(st.tuples(st.integers(1, 4), st.integers(0, 400)),
                                     max_size=12))
def test_shares_never_exceed_the_budget_and_meet_needs_when_they_can(
        budget: int, slots: list[tuple[int, int]]) -> None:
    child = [ChildSlot(f"s{i}", None, a) for i, (a, _) in enumerate(slots)]
    needs = {f"s{i}": n for i, (_, n) in enumerate(slots)}
    shares = share_budget(budget, child, needs)
    if sum(a for a, _ in slots) > budget:
        assert shares is None
        return
    assert shares is not None
    assert sum(s.attempts * (1 + shares[s.step]) for s in child) <= budget
    if sum(s.attempts * (1 + needs[s.step]) for s in child) <= budget:
        assert all(shares[s.step] >= needs[s.step] for s in child)


def tree_size(orch: dict[str, Any], budget: int, orchs: dict[str, dict[str, Any]],
              max_descendants: int) -> int:
    """Runs below a run of `orch` with `budget`, as the controller lets them be
    created: each refused run creates none, each child gets its step's share."""
    run = {"metadata": {"annotations": {BUDGET: str(budget)}}}
    if descendants_refusal(run, orch, max_descendants) is not None:
        return 0
    slots = child_slots(orch)
    shares = share_budget(budget, slots, descendant_need(orch, orchs.get, budget))
    assert shares is not None
    return sum(s.attempts * (1 + tree_size(orchs[s.calls], shares[s.step], orchs,
                                           max_descendants))
               for s in slots if s.calls in orchs)


@pytest.mark.parametrize(("width", "depth", "retries"), [
    pytest.param(5, 9, None, id="five-children-per-level"),  # issue 22.5: 155 runs in 7 s
    pytest.param(200, 8, None, id="200-steps-at-depth-8"),  # 200^8 without a budget
    pytest.param(3, 12, 2, id="retries-count"),
    pytest.param(1, 30, None, id="a-chain"),
])
def test_a_root_never_has_more_than_max_descendants(width: int, depth: int,
                                                    retries: int | None) -> None:
    orchs = {f"o{i}": fanout(f"o{i}", f"o{i + 1}" if i < depth else None, width, retries)
             for i in range(depth + 1)}
    for max_descendants in (0, 1, 7, 100, 1000):
        assert tree_size(orchs["o0"], max_descendants, orchs, max_descendants) \
            <= max_descendants
    chain = tree_size(orchs["o0"], 1000, orchs, 1000)
    if width == 1:
        assert chain == depth  # a chain the budget holds runs whole


def test_descendants_refusal_says_whose_budget() -> None:
    root = {"metadata": {"name": "r"}}
    child = {"metadata": {"name": "c", "annotations": {BUDGET: "4"}}}
    assert descendants_refusal(root, fanout("o", "x", 1000), 1000) is None
    assert "this install allows 1000" in str(descendants_refusal(root, fanout("o", "x", 1001),
                                                                 1000))
    message = descendants_refusal(child, fanout("o", "x", 5), 1000)
    assert message is not None and "up to 5 child runs" in message
    assert "its share of its root run's budget is 4" in message
