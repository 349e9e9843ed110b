"""`spec.policies` as the reference documents them (issue 20 item 4, contract §4):
`retries.limit` is the retries of every step that gives none; `timeouts.totalSeconds`
is the Workflow's `activeDeadlineSeconds`, and when it passes running steps end
`Failed` and steps not started `Skipped`, both `RunTimedOut`, the run `Failed` with
reason `RunTimedOut`: in the one §3 function (`orchapi.semantics`), the mirror and
`orch plan`. Before, the policies were parsed and ignored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.batch import compile_texts
from compiler.outcome import MAX_TASKS
from controller.mirror import mirror_workflow
from operate.cli import main
from orchapi.api import DEADLINE_ANNOTATION
from orchapi.argo import UNBOUNDED_SECONDS
from orchapi.graph import build_graph
from orchapi.models import Step
from orchapi.semantics import Observation, Seen, evaluate, plan
from orchapi.vocabulary import RunPhase, RunReason, StepPhase, StepReason
from tests.support.built import build, documents
from tests.unit.compiler.strategies import dags
from tests.unit.controller.helpers import compiled, container, node, with_status
from tests.unit.orchapi.test_semantics import dag, outcome

P, R = StepPhase, StepReason
TIMED_OUT_RAN = (P.FAILED, R.RUN_TIMED_OUT)
TIMED_OUT_NEVER = (P.SKIPPED, R.RUN_TIMED_OUT)


# -- the one §3 function -----------------------------------------------------------------
@pytest.mark.parametrize(("graph", "known", "expected"), [
    pytest.param(
        # a -> b -> d      the deadline passes while b runs: c had ended, d never started
        # a -> c
        dag("a", "b <- a", "c <- a", "d <- b, c"),
        {"a": Seen.SUCCEEDED, "b": Seen.RUNNING, "c": Seen.SUCCEEDED},
        {"a": (P.SUCCEEDED, None), "b": TIMED_OUT_RAN, "c": (P.SUCCEEDED, None),
         "d": TIMED_OUT_NEVER}, id="running-stopped-rest-never-started"),
    pytest.param(
        # a -> b           Argo failed b in the shutdown (its node is Failed)
        dag("a", "b <- a"), {"a": Seen.SUCCEEDED, "b": Seen.INTERRUPTED},
        {"a": (P.SUCCEEDED, None), "b": TIMED_OUT_RAN}, id="interrupted-by-the-deadline"),
    pytest.param(
        # a -> b           a failed before the deadline: b is skipped for it, not the deadline
        # c                c was running
        dag("a", "b <- a", "c"), {"a": Seen.FAILED, "c": Seen.RUNNING},
        {"a": (P.FAILED, R.STEP_FAILED), "b": (P.SKIPPED, R.DEPENDENCY_FAILED),
         "c": TIMED_OUT_RAN}, id="a-failure-before-the-deadline-keeps-its-reason"),
    pytest.param(
        # a -> b -> c      b timed out with the run: c never started, for the deadline
        dag("a", "b <- a", "c <- b"), {"a": Seen.SUCCEEDED, "b": Seen.INTERRUPTED},
        {"a": (P.SUCCEEDED, None), "b": TIMED_OUT_RAN, "c": TIMED_OUT_NEVER},
        id="below-a-timed-out-step"),
])
def test_the_run_s_deadline(graph: Any, known: dict[str, Seen],
                            expected: dict[str, tuple[StepPhase, StepReason | None]]) -> None:
    result = evaluate(graph, {k: Observation(v) for k, v in known.items()}, timed_out=True)
    assert outcome(result) == expected
    (condition,) = result.conditions
    assert (result.phase, condition.reason) == (RunPhase.FAILED, RunReason.RUN_TIMED_OUT)


def test_a_cancel_wins_over_the_deadline() -> None:
    result = evaluate(dag("a", "b <- a"), {"a": Observation(Seen.RUNNING)},
                      timed_out=True, cancelled=True)
    assert result.phase is RunPhase.CANCELLED


@settings(max_examples=300, deadline=None)
@given(dags(), st.data())
def test_at_the_deadline_every_step_not_ended_ends_for_it_or_for_a_dependency(
        doc: dict[str, Any], data: st.DataObject) -> None:
    graph = build_graph([Step.model_validate(s) for s in doc["spec"]["steps"]])
    states = st.sampled_from([Seen.SUCCEEDED, Seen.FAILED, Seen.RUNNING,
                              Seen.NOT_STARTED])
    known = {n: Observation(data.draw(states)) for n in graph.names}
    result = evaluate(graph, known, timed_out=True)
    assert all(s.is_done for s in result.steps)
    for s in result.steps:
        if known[s.name].state is Seen.RUNNING:
            assert (s.phase, s.reason) == TIMED_OUT_RAN
        elif known[s.name].state is Seen.NOT_STARTED:
            assert s.reason in (R.RUN_TIMED_OUT, R.DEPENDENCY_FAILED), s
    if any(s.reason is R.RUN_TIMED_OUT for s in result.steps):
        assert result.conditions[0].reason is RunReason.RUN_TIMED_OUT


def test_plan_the_deadline_passing_while_steps_run() -> None:
    graph = dag("a", "b <- a", "c <- a", "d <- b, c")
    assert outcome(plan(graph, timeout_during=["b"])) == {
        "a": (P.SUCCEEDED, None), "b": TIMED_OUT_RAN, "c": TIMED_OUT_NEVER,
        "d": TIMED_OUT_NEVER}
    assert outcome(plan(graph, failed=["a"], timeout_during=["b"]))["b"] == (
        P.SKIPPED, R.DEPENDENCY_FAILED)


# -- compiling them ----------------------------------------------------------------------
def with_policies(steps: list[dict[str, Any]], **policies: Any) -> list[dict[str, Any]]:
    (doc,) = documents(steps)
    doc["spec"]["policies"] = policies
    return [doc]


STEPS: list[dict[str, Any]] = [
    {"name": "plain", "kind": "Container", "image": "alpine"},
    {"name": "own", "kind": "Container", "image": "alpine", "retries": 0},
    {"name": "agent", "kind": "AgentRun", "agentRef": {"name": "a"},
     "implementationSpecRef": {"name": "i"}},
    {"name": "gate", "kind": "ApprovalGate", "policyRef": "p"},
    {"name": "mark", "kind": "Checkpoint"},
]


def test_retries_limit_is_the_retries_of_every_step_that_gives_none() -> None:
    built = build(with_policies(STEPS, retries={"limit": 2}))
    assert built.problems == []
    wf = built.workflow
    assert wf is not None
    templates = {t["name"]: t for t in wf["spec"]["templates"]}
    task = {t["name"]: t.get("template") for t in wf["spec"]["templates"][0]["dag"]["tasks"]}
    strategy = {"limit": "2", "retryPolicy": "Always"}
    assert templates[task["plain"]]["retryStrategy"] == strategy
    assert templates[task["agent"]]["retryStrategy"] == strategy
    assert "retryStrategy" not in templates[task["own"]]  # retries: 0 is its own
    # a wait is decided once and a no-op cannot fail: no policy retries them
    assert "retryStrategy" not in templates[task["gate"]]
    assert "retryStrategy" not in templates[task["mark"]]


def test_a_template_step_is_named_where_retries_limit_cannot_reach_it() -> None:
    steps = [{"name": "shared", "kind": "Template", "templateRef": {"name": "w", "template": "t"}}]
    built = build(with_policies(steps, retries={"limit": 1}))
    assert built.problems == [("InvalidField", "spec.policies.retries.limit", "warning")]
    assert "shared" in built.diagnostics[0].message


@pytest.mark.parametrize("others", [0, MAX_TASKS], ids=["one-dag", "split"])
def test_orch_compile_names_the_template_steps_retries_limit_cannot_reach(others: int) -> None:
    """The warning is the same whether the run fits one DAG or is split (contract
    §8: the same semantics past 200 steps); a split run used to drop it."""
    steps: list[dict[str, Any]] = [
        {"name": "shared", "kind": "Template", "templateRef": {"name": "w", "template": "t"}},
        *({"name": f"s{i}", "kind": "Checkpoint"} for i in range(others))]
    (doc,) = with_policies(steps, retries={"limit": 1})
    batch = compile_texts([("in.yaml", json.dumps(doc))], lambda wf: "")
    assert [(str(d.reason), str(d.path), str(d.severity), d.names) for d in batch.diagnostics] \
        == [("InvalidField", "spec.policies.retries.limit", "warning", ("shared",))]


def test_total_seconds_is_the_workflow_s_deadline_and_says_so() -> None:
    built = build(with_policies(STEPS[:1], timeouts={"totalSeconds": 7200}))
    wf = built.workflow
    assert wf is not None
    assert wf["spec"]["activeDeadlineSeconds"] == 7200
    assert wf["metadata"]["annotations"] == {DEADLINE_ANNOTATION: "7200"}
    bare = (build(documents(STEPS[:1])).workflow or {})["spec"]  # no deadline, pinned
    assert bare["activeDeadlineSeconds"] == UNBOUNDED_SECONDS


@pytest.mark.parametrize(("policies", "path"), [
    pytest.param({"retries": {"limit": -1}}, "spec.policies.retries.limit", id="negative"),
    pytest.param({"retries": {"limit": "2"}}, "spec.policies.retries.limit", id="text"),
    pytest.param({"timeouts": {"totalSeconds": 0}}, "spec.policies.timeouts.totalSeconds",
                 id="zero-seconds"),
    pytest.param({"timeouts": 7200}, "spec.policies.timeouts", id="not-a-mapping"),
    pytest.param({"timeouts": {"totalSeconds": True}}, "spec.policies.timeouts.totalSeconds",
                 id="boolean"),
])
def test_a_policy_of_the_wrong_type_is_invalid_field(policies: dict[str, Any],
                                                     path: str) -> None:
    built = build(with_policies(STEPS[:1], **policies))
    assert ("InvalidField", path, "error") in built.problems


def test_a_misspelled_policy_is_named() -> None:
    built = build(with_policies(STEPS[:1], retries={"limt": 2}))
    assert [(d.path.parts[-1], d.hint) for d in built.diagnostics] == [
        ("limt", 'did you mean "limit"?')]


# -- the mirror ----------------------------------------------------------------------------
def _deadline_workflow(annotated: bool) -> dict[str, Any]:
    wf = with_status(compiled([container("a", []), container("b", ["a"])]), "Failed", [
        node("a", "Failed", message="Step exceeded its deadline",
             finished="2026-01-01T00:00:11Z")],
        activeDeadlineSeconds=10)
    if annotated:
        wf["metadata"]["annotations"][DEADLINE_ANNOTATION] = "10"
    return wf


def test_the_mirror_says_the_run_timed_out_at_its_own_deadline() -> None:
    m = mirror_workflow(_deadline_workflow(annotated=True), {}, "2026-01-01T00:02:00Z")
    assert {s["name"]: (s["phase"], s["reason"]) for s in m.step_statuses} == {
        "a": ("Failed", "RunTimedOut"), "b": ("Skipped", "RunTimedOut")}
    succeeded = next(c for c in m.conditions if c.type == "Succeeded")
    assert (m.phase, succeeded.reason) == ("Failed", "RunTimedOut")
    assert "spec.policies.timeouts.totalSeconds" in succeeded.message


def test_another_deadline_still_ends_the_workflow() -> None:
    """A deadline the run did not set (a person's, an Argo default's) is §3's early end."""
    m = mirror_workflow(_deadline_workflow(annotated=False), {}, "2026-01-01T00:02:00Z")
    assert {s["name"]: s["reason"] for s in m.step_statuses} == {
        "a": "WorkflowEnded", "b": "WorkflowEnded"}


# -- orch plan --------------------------------------------------------------------------------
@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "o.yaml"
    path.write_text(yaml.safe_dump(with_policies(
        [{"name": "a", "kind": "Container", "image": "x"},
         {"name": "b", "kind": "Container", "image": "x", "dependsOn": ["a"]}],
        retries={"limit": 2}, timeouts={"totalSeconds": 600})[0]))
    return path


def test_plan_shows_the_policies_and_the_deadline_passing(
        policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(policy_file)]) == 0
    text = capsys.readouterr().out
    assert "deadline: 600s (spec.policies.timeouts.totalSeconds" in text
    assert "retries: 2 for each step that sets none" in text
    assert main(["plan", str(policy_file), "--timeout-during", "a", "-o", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["policies"] == {"deadlineSeconds": 600, "retries": 2}
    assert [(s["name"], s["phase"], s["reason"]) for s in found["steps"]] == [
        ("a", "Failed", "RunTimedOut"), ("b", "Skipped", "RunTimedOut")]


def test_timeout_during_needs_a_deadline_and_a_step(
        policy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(policy_file), "--timeout-during", "nope"]) == 2
    assert "has no step" in capsys.readouterr().err
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump(documents([{"name": "a", "kind": "Checkpoint"}])[0]))
    assert main(["plan", str(bare), "--timeout-during", "a"]) == 2
    assert "no spec.policies.timeouts.totalSeconds" in capsys.readouterr().err
