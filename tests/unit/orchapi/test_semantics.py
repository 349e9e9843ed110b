"""The rules of contract §3 on hand-written cases: phases in -> phases and reasons out.

Each graph is written as `step <- dep, dep` lines; a `*` after a name marks
`continueOnFailure: true`. Each case draws its graph; arrows point from a
dependency to the step that waits for it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from orchapi.graph import Graph, Node
from orchapi.semantics import (
    Observation,
    RunResult,
    Seen,
    WhatIf,
    argo_phase_agreement,
    evaluate,
    outcome_from_argo,
    plan,
)
from orchapi.vocabulary import ConditionStatus, RunPhase, RunReason, StepPhase, StepReason

P, R = StepPhase, StepReason
OK = (P.SUCCEEDED, None)
SKIP = (P.SKIPPED, R.DEPENDENCY_FAILED)
FAILED = (P.FAILED, R.STEP_FAILED)
IGNORED = (P.FAILED, R.FAILURE_IGNORED)


def dag(*lines: str) -> Graph:
    """`dag("a", "b <- a", "c* <- a, b")`: DAG mode, declaration order as given."""
    nodes = []
    for line in lines:
        head, _, deps = line.partition("<-")
        name = head.strip()
        best_effort = name.endswith("*")
        nodes.append(Node(name.rstrip("*"), "Container",
                          tuple(d.strip() for d in deps.split(",") if d.strip()), best_effort))
    return Graph(tuple(nodes))


def outcome(result: RunResult) -> dict[str, tuple[StepPhase, StepReason | None]]:
    return {s.name: (s.phase, s.reason) for s in result.steps}


PLAN_CASES = [
    pytest.param(
        # a -> b -> c
        # a -> x -> y        b fails: its branch stops, the other runs to the end
        dag("a", "b <- a", "c <- b", "x <- a", "y <- x"), {"b"}, set(),
        {"a": OK, "b": FAILED, "c": SKIP, "x": OK, "y": OK},
        RunPhase.FAILED, RunReason.STEPS_FAILED,
        id="failure-in-one-branch-other-branch-runs-to-end",
    ),
    pytest.param(
        # a -> b -> c -> d -> e -> f      a fails: every level below is skipped
        dag("a", "b <- a", "c <- b", "d <- c", "e <- d", "f <- e"), {"a"}, set(),
        {"a": FAILED, "b": SKIP, "c": SKIP, "d": SKIP, "e": SKIP, "f": SKIP},
        RunPhase.FAILED, RunReason.STEPS_FAILED,
        id="skip-cascades-through-any-depth",
    ),
    pytest.param(
        #   a
        #  / \
        # b   c      b fails: d waits for both, so d is skipped; c still runs
        #  \ /
        #   d
        dag("a", "b <- a", "c <- a", "d <- b, c"), {"b"}, set(),
        {"a": OK, "b": FAILED, "c": OK, "d": SKIP},
        RunPhase.FAILED, RunReason.STEPS_FAILED,
        id="diamond-one-branch-fails-join-skipped",
    ),
    pytest.param(
        # a* -> b -> c      a fails, best-effort: its dependents run
        dag("a*", "b <- a", "c <- b"), {"a"}, set(),
        {"a": IGNORED, "b": OK, "c": OK},
        RunPhase.SUCCEEDED, RunReason.FAILURES_IGNORED,
        id="continue-on-failure-lets-dependents-run",
    ),
    pytest.param(
        # a -> b* -> c      a fails: b never starts, so its continueOnFailure is moot
        dag("a", "b* <- a", "c <- b"), {"a"}, set(),
        {"a": FAILED, "b": SKIP, "c": SKIP},
        RunPhase.FAILED, RunReason.STEPS_FAILED,
        id="skipped-for-failed-dependency-stays-skipped-with-continue-on-failure",
    ),
    pytest.param(
        # a* -> b*      both fail, both best-effort: the run succeeds
        dag("a*", "b* <- a", "c"), {"a", "b"}, set(),
        {"a": IGNORED, "b": IGNORED, "c": OK},
        RunPhase.SUCCEEDED, RunReason.FAILURES_IGNORED,
        id="only-ignored-failures-run-succeeded",
    ),
    pytest.param(
        # a* -> b      a errors: Error is not covered by continueOnFailure
        dag("a*", "b <- a"), set(), {"a"},
        {"a": (P.FAILED, R.STEP_ERROR), "b": SKIP},
        RunPhase.FAILED, RunReason.STEPS_FAILED,
        id="error-not-covered-by-continue-on-failure",
    ),
    pytest.param(
        # a   b   c      three roots, nothing fails
        dag("a", "b", "c"), set(), set(),
        {"a": OK, "b": OK, "c": OK},
        RunPhase.SUCCEEDED, RunReason.ALL_STEPS_SUCCEEDED,
        id="all-succeed",
    ),
    pytest.param(
        # a -> b* -> c      b fails, best-effort; c runs and fails for real
        dag("a", "b* <- a", "c <- b"), {"b", "c"}, set(),
        {"a": OK, "b": IGNORED, "c": FAILED},
        RunPhase.FAILED, RunReason.STEPS_FAILED,
        id="ignored-then-real-failure",
    ),
]


@pytest.mark.parametrize(("graph", "failed", "errored", "steps", "phase", "reason"), PLAN_CASES)
def test_plan_rules(
    graph: Graph,
    failed: set[str],
    errored: set[str],
    steps: dict[str, tuple[StepPhase, StepReason | None]],
    phase: RunPhase,
    reason: RunReason,
) -> None:
    result = plan(graph, failed, errored)
    assert outcome(result) == steps
    assert result.phase is phase
    (condition,) = result.conditions
    assert (condition.type, condition.reason) == ("Succeeded", reason)
    assert condition.status is (ConditionStatus.TRUE if phase is RunPhase.SUCCEEDED
                                else ConditionStatus.FALSE)
    assert [s.name for s in result.steps] == [n.name for n in graph.nodes]


def test_sequential_mode_failure_skips_the_rest() -> None:
    # a -> b -> c (sequential: each step depends on the one before)
    graph = Graph((Node("a", "Container", ()), Node("b", "Container", ("a",)),
                   Node("c", "Container", ("b",))), sequential=True)
    assert outcome(plan(graph, {"b"})) == {"a": OK, "b": FAILED, "c": SKIP}


def _seen(**states: Seen) -> Mapping[str, Observation]:
    return {name: Observation(state) for name, state in states.items()}


KNOWN_CASES = [
    pytest.param(
        # a -> b      a timed out
        dag("a", "b <- a"), _seen(a=Seen.TIMED_OUT), False,
        {"a": (P.FAILED, R.STEP_TIMED_OUT), "b": SKIP},
        RunPhase.FAILED, RunReason.STEPS_FAILED,
        id="timeout-is-step-timed-out",
    ),
    pytest.param(
        # a* -> b     a timed out, best-effort: a timeout is the step's own failure
        dag("a*", "b <- a"), _seen(a=Seen.TIMED_OUT, b=Seen.SUCCEEDED), False,
        {"a": IGNORED, "b": OK},
        RunPhase.SUCCEEDED, RunReason.FAILURES_IGNORED,
        id="timeout-with-continue-on-failure-is-ignored",
    ),
    pytest.param(
        # a -> b -> c
        # x               stopped while b ran: b interrupted, c never started, x done
        dag("a", "b <- a", "c <- b", "x"),
        _seen(a=Seen.SUCCEEDED, b=Seen.RUNNING, x=Seen.SUCCEEDED), True,
        {"a": OK, "b": (P.FAILED, R.WORKFLOW_ENDED), "c": (P.SKIPPED, R.WORKFLOW_ENDED),
         "x": OK},
        RunPhase.FAILED, RunReason.WORKFLOW_ENDED,
        id="workflow-ended-early",
    ),
    pytest.param(
        # a -> b      a failed in the shutdown (Argo's shutdown message): b never
        # c           started, for the same reason; neither did the root c
        dag("a", "b <- a", "c"), _seen(a=Seen.INTERRUPTED), True,
        {"a": (P.FAILED, R.WORKFLOW_ENDED), "b": (P.SKIPPED, R.WORKFLOW_ENDED),
         "c": (P.SKIPPED, R.WORKFLOW_ENDED)},
        RunPhase.FAILED, RunReason.WORKFLOW_ENDED,
        id="workflow-ended-interrupted-step-dependents-workflow-ended",
    ),
    pytest.param(
        # a -> b      a failed before the Workflow was stopped: b is skipped for a
        dag("a", "b <- a"), _seen(a=Seen.FAILED), True,
        {"a": FAILED, "b": SKIP},
        RunPhase.FAILED, RunReason.STEPS_FAILED,
        id="workflow-ended-after-failure-dependency-failed-first",
    ),
    pytest.param(
        # a -> b      Argo skipped a (a `when`): b may run, as Argo's `a.Skipped` lets it
        dag("a", "b <- a"), _seen(a=Seen.SKIPPED), False,
        {"a": (P.SKIPPED, R.SKIPPED_BY_ARGO), "b": (P.PENDING, None)},
        RunPhase.RUNNING, RunReason.RUNNING,
        id="skipped-by-argo-lets-dependents-run",
    ),
    pytest.param(
        # a -> b      ... and it is no failure of the run
        dag("a", "b <- a"), _seen(a=Seen.SKIPPED, b=Seen.SUCCEEDED), True,
        {"a": (P.SKIPPED, R.SKIPPED_BY_ARGO), "b": OK},
        RunPhase.SUCCEEDED, RunReason.ALL_STEPS_SUCCEEDED,
        id="skipped-by-argo-is-no-failure",
    ),
    pytest.param(
        # a -> b      stopped after every step had ended: nothing was cut short
        dag("a", "b <- a"), _seen(a=Seen.SUCCEEDED, b=Seen.SUCCEEDED), True,
        {"a": OK, "b": OK},
        RunPhase.SUCCEEDED, RunReason.ALL_STEPS_SUCCEEDED,
        id="workflow-ended-after-all-done",
    ),
]


CANCELLED_RAN = (P.FAILED, R.CANCELLED)
CANCELLED_NEVER = (P.SKIPPED, R.CANCELLED)

CANCEL_CASES = [
    pytest.param(
        # a -> b -> c     cancelled while b ran: b stopped, c never starts, a keeps
        # x -> y          its result, and so does the failed x and what it skipped
        dag("a", "b <- a", "c <- b", "x", "y <- x"),
        _seen(a=Seen.SUCCEEDED, b=Seen.RUNNING, x=Seen.FAILED), False,
        {"a": OK, "b": CANCELLED_RAN, "c": CANCELLED_NEVER, "x": FAILED, "y": SKIP},
        RunPhase.CANCELLED, RunReason.CANCELLED,
        id="cancel-running-and-pending-steps",
    ),
    pytest.param(
        # a -> b          the Workflow stopped for the cancel: Argo failed a in the
        # c               shutdown; the cancel, not the Workflow's end, is the reason
        dag("a", "b <- a", "c"), _seen(a=Seen.INTERRUPTED), True,
        {"a": CANCELLED_RAN, "b": CANCELLED_NEVER, "c": CANCELLED_NEVER},
        RunPhase.CANCELLED, RunReason.CANCELLED,
        id="cancel-wins-over-workflow-ended",
    ),
    pytest.param(
        # a -> b          cancelled after every step had ended: the cancel changes nothing
        dag("a", "b <- a"), _seen(a=Seen.SUCCEEDED, b=Seen.FAILED), True,
        {"a": OK, "b": FAILED},
        RunPhase.FAILED, RunReason.STEPS_FAILED,
        id="cancel-after-the-end-changes-nothing",
    ),
    pytest.param(
        # a -> b -> c     a reused (a resumed run), b runs, c waits; nothing cancelled
        dag("a", "b <- a", "c <- b"), _seen(a=Seen.REUSED, b=Seen.RUNNING), None,
        {"a": (P.SUCCEEDED, R.REUSED), "b": (P.RUNNING, None), "c": (P.PENDING, None)},
        RunPhase.RUNNING, RunReason.RUNNING,
        id="reused-step-lets-its-dependents-run",
    ),
    pytest.param(
        # a -> b          a reused, b succeeded: the run succeeded
        dag("a", "b <- a"), _seen(a=Seen.REUSED, b=Seen.SUCCEEDED), None,
        {"a": (P.SUCCEEDED, R.REUSED), "b": OK},
        RunPhase.SUCCEEDED, RunReason.ALL_STEPS_SUCCEEDED,
        id="reused-and-rerun-steps-succeed",
    ),
]


@pytest.mark.parametrize(("graph", "known", "ended", "steps", "phase", "reason"), CANCEL_CASES)
def test_cancel_and_reuse(
    graph: Graph,
    known: Mapping[str, Observation],
    ended: bool | None,
    steps: dict[str, tuple[StepPhase, StepReason | None]],
    phase: RunPhase,
    reason: RunReason,
) -> None:
    """`ended` None: not cancelled; else cancelled, with the Workflow ended or not."""
    result = evaluate(graph, known, workflow_ended=bool(ended), cancelled=ended is not None)
    assert outcome(result) == steps
    assert result.phase is phase
    condition = result.conditions[0]
    assert condition.reason == reason
    if phase is RunPhase.CANCELLED:
        assert condition.status is ConditionStatus.FALSE
        assert condition.message.startswith("cancelled (spec.cancel)")


def test_the_cancel_message_counts_stopped_and_never_started_steps() -> None:
    result = evaluate(dag("a", "b <- a", "c", "d"),
                      _seen(a=Seen.RUNNING, c=Seen.RUNNING, d=Seen.FAILED),
                      cancelled=True)
    assert result.conditions[0].message == (
        "cancelled (spec.cancel); 2 steps (a, c) stopped; 1 step (b) never started; "
        "1 step (d) failed before")


@pytest.mark.parametrize(("graph", "known", "ended", "steps", "phase", "reason"), KNOWN_CASES)
def test_known_states(
    graph: Graph,
    known: Mapping[str, Observation],
    ended: bool,
    steps: dict[str, tuple[StepPhase, StepReason | None]],
    phase: RunPhase,
    reason: RunReason,
) -> None:
    result = evaluate(graph, known, workflow_ended=ended)
    assert outcome(result) == steps
    assert result.phase is phase
    assert result.conditions[0].reason == reason


def test_partial_knowledge_of_a_running_run() -> None:
    # a -> c          a done: c can start now
    # b -> d          b running: d waits
    # f -> e          f failed: e can no longer run
    # g               not started root: can start now
    graph = dag("a", "b", "c <- a", "d <- b", "f", "e <- f", "g")
    result = evaluate(graph, _seen(a=Seen.SUCCEEDED, b=Seen.RUNNING, f=Seen.FAILED))
    assert outcome(result) == {
        "a": OK, "b": (P.RUNNING, None), "c": (P.PENDING, None), "d": (P.PENDING, None),
        "f": FAILED, "e": SKIP, "g": (P.PENDING, None),
    }
    assert result.runnable == ("c", "g")
    assert result.phase is RunPhase.RUNNING
    assert (result.conditions[0].status, result.conditions[0].reason) == (
        ConditionStatus.UNKNOWN, RunReason.RUNNING)
    assert result.progress == "3/7"  # a, f, e have ended


def test_what_if_on_a_running_run_keeps_the_facts() -> None:
    # a -> b -> c     a already failed (best-effort); assume the rest succeeds
    graph = dag("a*", "b <- a", "c <- b")
    running = evaluate(graph, _seen(a=Seen.FAILED))
    assert outcome(running)["b"] == (P.PENDING, None)
    assert running.runnable == ("b",)
    finished = evaluate(graph, _seen(a=Seen.FAILED), what_if=WhatIf(frozenset({"c"})))
    assert outcome(finished) == {"a": IGNORED, "b": OK, "c": FAILED}


def test_facts_win_over_derivation() -> None:
    # a -> b      the mirror saw b succeed (e.g. a when-skipped a in Argo): keep it
    graph = dag("a", "b <- a")
    result = evaluate(graph, _seen(a=Seen.FAILED, b=Seen.SUCCEEDED))
    assert outcome(result) == {"a": FAILED, "b": OK}


def test_messages_name_the_cause_and_carry_argo_text() -> None:
    graph = dag("a", "b <- a", "c*")
    result = evaluate(graph, {"a": Observation(Seen.FAILED, "exit code 2"),
                              "c": Observation(Seen.FAILED)})
    assert result.by_name["a"].message == "failed (exit code 2)"
    assert result.by_name["b"].message == 'dependency "a" failed'
    assert result.conditions[0].message == "1 step (a) failed; 1 step (b) skipped"


def test_failures_ignored_message_counts_them() -> None:
    result = plan(dag("a*", "b*", "c"), {"a", "b"})
    assert result.conditions[0].message == (
        "2 failures (a, b) ignored (continueOnFailure); 1 of 3 steps succeeded")


def test_linear_time_on_a_long_chain_and_a_wide_fan() -> None:
    # s0 -> s1 -> ... -> s9999, plus one root every other step depends on
    chain = [Node("root", "Container", ())]
    chain += [Node(f"s{i}", "Container", (f"s{i - 1}", "root") if i else ("root",))
              for i in range(10_000)]
    result = plan(Graph(tuple(chain)), {"s0"})
    assert result.by_name["s9999"].phase is P.SKIPPED
    assert sum(s.phase is P.SKIPPED for s in result.steps) == 9_999


@pytest.mark.parametrize(("run", "argo", "status"), [
    pytest.param(RunPhase.SUCCEEDED, "Succeeded", ConditionStatus.TRUE, id="both-succeeded"),
    pytest.param(RunPhase.FAILED, "Failed", ConditionStatus.TRUE, id="both-failed"),
    pytest.param(RunPhase.FAILED, "Error", ConditionStatus.TRUE, id="error-is-failed"),
    pytest.param(RunPhase.FAILED, "Succeeded", ConditionStatus.FALSE, id="argo-13498"),
    pytest.param(RunPhase.SUCCEEDED, "Failed", ConditionStatus.FALSE,
                 id="stopped-after-every-step-ended"),
])
def test_argo_phase_agreement(run: RunPhase, argo: str, status: ConditionStatus) -> None:
    condition = argo_phase_agreement(run, argo)
    assert (condition.type, condition.status) == ("ArgoPhaseAgrees", status)
    assert condition.reason == ("SamePhase" if status is ConditionStatus.TRUE
                                else "ArgoPhaseDiffers")


def test_outcome_from_argo_names_argos_phase_only() -> None:
    phase, condition = outcome_from_argo("Error", "steps unknown")
    assert phase is RunPhase.FAILED
    assert (condition.status, condition.reason, condition.message) == (
        ConditionStatus.FALSE, "NodeStatusOffloaded", "Argo reports the Workflow Error; "
        "steps unknown")


def test_skipped_by_argo_is_counted_in_the_message() -> None:
    result = evaluate(dag("a", "b"), _seen(a=Seen.SKIPPED, b=Seen.SUCCEEDED))
    assert result.conditions[0].message == "1 of 2 steps succeeded; 1 step (a) skipped by Argo"
