"""The contract's §3 as one pure function: a graph + what is known of each step ->
every step's phase, reason and message, and the run's phase and conditions,
cancel (`spec.cancel`) and resume (steps `Seen.REUSED`) included.

`orch plan` (what-if), the status mirror of the controller and the tests all call
`evaluate`, so there is one answer to "what happens to this step". Why a step ends
as it does is one ordered decision (`decide_step`, after Tekton's skipping rules);
steps are visited once in topological order, so the cost is linear in steps + edges.

Facts win over derivations: a step known to have ended keeps what is known of it.
Only steps not known to have started are derived from their dependencies.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from orchapi.argo import ArgoPhase
from orchapi.graph import Graph, Node, topological_order
from orchapi.vocabulary import (
    ArgoPhaseReason,
    ConditionStatus,
    ConditionType,
    NodeStatusReason,
    RunPhase,
    RunReason,
    StepPhase,
    StepReason,
)


class Seen(enum.StrEnum):
    """What is seen of one step (the status mirror reads it from Argo's nodes).
    Not `controller.decide.Observed`, which is everything known of one run."""

    NOT_STARTED = "NotStarted"  # no node yet (or Argo's Pending/Omitted: nothing ran)
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"  # its own failure: non-zero exit, failure condition (Argo `Failed`)
    TIMED_OUT = "TimedOut"  # Argo `Failed` because the step's own `timeout` passed
    ERRORED = "Errored"  # infrastructure error (Argo `Error`)
    INTERRUPTED = "Interrupted"  # Argo failed it ending the Workflow early (stop, deadline)
    SKIPPED = "Skipped"  # Argo skipped it (a `when`): nothing ran, its dependents may
    REUSED = "Reused"  # a resumed run took its result from the run it resumes (not run)


_FINAL_OBSERVATIONS = frozenset(
    {Seen.SUCCEEDED, Seen.FAILED, Seen.TIMED_OUT, Seen.ERRORED,
     Seen.INTERRUPTED, Seen.SKIPPED, Seen.REUSED}
)
_FINAL_PHASES = frozenset({StepPhase.SUCCEEDED, StepPhase.FAILED, StepPhase.SKIPPED})
_LETS_DEPENDENTS_RUN = frozenset({StepReason.FAILURE_IGNORED, StepReason.SKIPPED_BY_ARGO})
# Reasons of steps the run's own end stopped: they say nothing about their dependents,
# whose fate the same end decides (a cancel before the Workflow's end).
_STOPPED_BY_THE_END = frozenset({StepReason.CANCELLED, StepReason.WORKFLOW_ENDED,
                                 StepReason.RUN_TIMED_OUT})


@dataclass(frozen=True, slots=True)
class Observation:
    """One step's known state; `message` is Argo's, carried into the result."""

    state: Seen = Seen.NOT_STARTED
    message: str | None = None


@dataclass(frozen=True, slots=True)
class StepResult:
    name: str
    phase: StepPhase
    reason: StepReason | None
    message: str
    runnable: bool = False  # Pending with every dependency done and satisfied

    @property
    def is_done(self) -> bool:
        return self.phase in _FINAL_PHASES

    @property
    def satisfies_dependents(self) -> bool:
        """Lets its dependents start (contract §3, first bullet; a step Argo skipped
        lets them start too, as Argo's `dependencies` accept `Skipped`)."""
        return self.phase is StepPhase.SUCCEEDED or self.reason in _LETS_DEPENDENTS_RUN

    @property
    def blocks_dependents(self) -> bool:
        """Ended so that its dependents can never start."""
        return self.is_done and not self.satisfies_dependents


@dataclass(frozen=True, slots=True)
class DecidedCondition:
    """A condition as the semantics decide it: a Kubernetes condition without the
    fields the controller stamps (`observedGeneration`, `lastTransitionTime`:
    `controller.conditions.to_dict`), which then is an `orchapi.models.Condition`."""

    type: str
    status: ConditionStatus
    reason: str
    message: str


@dataclass(frozen=True)
class RunResult:
    phase: RunPhase
    steps: tuple[StepResult, ...]  # declaration order
    conditions: tuple[DecidedCondition, ...]

    @cached_property
    def by_name(self) -> dict[str, StepResult]:
        return {s.name: s for s in self.steps}

    @property
    def progress(self) -> str:
        """`done/total`, as `status.progress` shows it."""
        return f"{sum(s.is_done for s in self.steps)}/{len(self.steps)}"

    @property
    def runnable(self) -> tuple[str, ...]:
        """Steps that can start now, in declaration order."""
        return tuple(s.name for s in self.steps if s.runnable)


@dataclass(frozen=True, slots=True)
class WhatIf:
    """Assume every step that gets to run ends: the named ones fail (or error),
    every other one succeeds. Used by `orch plan`. With `deadline`, the run's
    deadline passes while those steps run: only what they depend on ran before
    (`before`), the steps in `deadline` are running, nothing else started."""

    failed: frozenset[str] = frozenset()
    errored: frozenset[str] = frozenset()
    deadline: frozenset[str] = frozenset()
    before: frozenset[str] | None = None  # None: no deadline, every step gets to run

    def outcome(self, name: str) -> Observation:
        if name in self.deadline:
            return Observation(Seen.RUNNING, "assumed: --timeout-during")
        if self.before is not None and name not in self.before:
            return Observation()
        if name in self.errored:
            return Observation(Seen.ERRORED, "assumed: --error")
        if name in self.failed:
            return Observation(Seen.FAILED, "assumed: --fail")
        return Observation(Seen.SUCCEEDED)


def first_blocking(dependencies: Sequence[StepResult]) -> StepResult | None:
    """The first dependency, in the order the step lists them, that keeps the step
    from ever starting: it failed (not ignored) or was skipped, and not because the
    run was cancelled or its Workflow ended (those decide the step themselves).
    `orch get` shows it: `DependencyFailed ← build`."""
    for dep in dependencies:
        if dep.blocks_dependents and dep.reason not in _STOPPED_BY_THE_END:
            return dep
    return None


def decide_step(
    node: Node,
    dependencies: Sequence[StepResult],
    seen: Observation,
    workflow_ended: bool,
    cancelled: bool = False,
    timed_out: bool = False,
) -> StepResult:
    """Why one step ends as it does: one ordered decision. `dependencies` are the
    results of the step's dependencies, in the order the step lists them;
    `cancelled` says the run was cancelled (`spec.cancel`) and its Workflow stopped;
    `timed_out` that the Workflow ended because the run's deadline
    (`spec.policies.timeouts.totalSeconds`) passed."""
    name = node.name
    # 1. It ran to an end (or was reused): what happened is the answer; a step Argo
    #    failed while stopping the Workflow for the cancel was cancelled, at the run's
    #    deadline it timed out with the run.
    if seen.state in _FINAL_OBSERVATIONS:
        if cancelled and seen.state is Seen.INTERRUPTED:
            return StepResult(name, StepPhase.FAILED, StepReason.CANCELLED,
                              _join("the run was cancelled while the step ran", seen.message))
        if timed_out and seen.state is Seen.INTERRUPTED:
            return StepResult(name, StepPhase.FAILED, StepReason.RUN_TIMED_OUT,
                              _join(_RAN_PAST_DEADLINE, seen.message))
        return _ended(node, seen)
    # 2. It was running when the run was cancelled or the Workflow ended: it is stopped.
    if seen.state is Seen.RUNNING:
        if cancelled:
            return StepResult(name, StepPhase.FAILED, StepReason.CANCELLED,
                              _join("the run was cancelled while the step ran", seen.message))
        if timed_out:
            return StepResult(name, StepPhase.FAILED, StepReason.RUN_TIMED_OUT,
                              _join(_RAN_PAST_DEADLINE, seen.message))
        if workflow_ended:
            return StepResult(name, StepPhase.FAILED, StepReason.WORKFLOW_ENDED,
                              _join("the Workflow ended while the step ran", seen.message))
        return StepResult(name, StepPhase.RUNNING, None, seen.message or "running")
    # 3. Not started; a dependency that failed (not ignored) or was skipped blocks it,
    #    unless the cancel or the Workflow's end is what stopped that dependency.
    blocker = first_blocking(dependencies)
    if blocker is not None:
        verb = "was skipped" if blocker.phase is StepPhase.SKIPPED else (
            "errored" if blocker.reason is StepReason.STEP_ERROR else "failed")
        return StepResult(name, StepPhase.SKIPPED, StepReason.DEPENDENCY_FAILED,
                          f'dependency "{blocker.name}" {verb}')
    # 4. The run was cancelled before it could start.
    if cancelled:
        return StepResult(name, StepPhase.SKIPPED, StepReason.CANCELLED,
                          "the run was cancelled before the step started")
    # 5. The run's deadline passed, or the Workflow ended, before it could start.
    if timed_out or any(d.reason is StepReason.RUN_TIMED_OUT for d in dependencies):
        return StepResult(name, StepPhase.SKIPPED, StepReason.RUN_TIMED_OUT,
                          "the run passed its deadline before the step started")
    if workflow_ended or any(d.reason is StepReason.WORKFLOW_ENDED for d in dependencies):
        return StepResult(name, StepPhase.SKIPPED, StepReason.WORKFLOW_ENDED,
                          "the Workflow ended before the step started")
    # 6. Waiting: runnable now when every dependency is done (and none blocks).
    waiting = [d.name for d in dependencies if not d.is_done]
    if waiting:
        return StepResult(name, StepPhase.PENDING, None, f"waiting for {_names(waiting)}")
    return StepResult(name, StepPhase.PENDING, None, seen.message or "ready to start",
                      runnable=True)


_RAN_PAST_DEADLINE = "the run passed its deadline (timeouts.totalSeconds) while the step ran"


def _ended(node: Node, seen: Observation) -> StepResult:
    name, state, note = node.name, seen.state, seen.message
    if state is Seen.SUCCEEDED:
        return StepResult(name, StepPhase.SUCCEEDED, None, note or "succeeded")
    if state is Seen.REUSED:
        return StepResult(name, StepPhase.SUCCEEDED, StepReason.REUSED,
                          note or "reused from the resumed run")
    if state is Seen.ERRORED:
        return StepResult(name, StepPhase.FAILED, StepReason.STEP_ERROR,
                          _join("infrastructure error; continueOnFailure does not cover it",
                                note))
    if state is Seen.INTERRUPTED:
        return StepResult(name, StepPhase.FAILED, StepReason.WORKFLOW_ENDED,
                          _join("the Workflow ended while the step ran", note))
    if state is Seen.SKIPPED:
        return StepResult(name, StepPhase.SKIPPED, StepReason.SKIPPED_BY_ARGO,
                          note or "skipped by Argo")
    what = "timed out" if state is Seen.TIMED_OUT else "failed"
    if node.continue_on_failure:
        return StepResult(name, StepPhase.FAILED, StepReason.FAILURE_IGNORED,
                          _join(f"{what}; continueOnFailure lets its dependents run", note))
    reason = StepReason.STEP_TIMED_OUT if state is Seen.TIMED_OUT else StepReason.STEP_FAILED
    return StepResult(name, StepPhase.FAILED, reason, _join(what, note))


def evaluate(
    graph: Graph,
    known: Mapping[str, Observation] | None = None,
    *,
    workflow_ended: bool = False,
    what_if: WhatIf | None = None,
    cancelled: bool = False,
    timed_out: bool = False,
) -> RunResult:
    """Every step's result and the run's. `known` holds what is known per step
    (a step missing from it has not started; a reused one is `Seen.REUSED`);
    `workflow_ended` says the Workflow was stopped, terminated, passed its deadline
    or was deleted; `timed_out` that it ended because the run's own deadline
    (`spec.policies.timeouts.totalSeconds`) passed; `cancelled` that the run was
    cancelled (`spec.cancel`). With `what_if`, a step not known to have started
    that gets to run is assumed to end as `what_if` says, so the result is a
    finished run."""
    known = known or {}
    ended = workflow_ended or timed_out
    results: dict[str, StepResult] = {}
    for name in topological_order(graph):
        node = graph.by_name[name]
        deps = [results[d] for d in node.dependencies]
        seen = known.get(name, Observation())
        result = decide_step(node, deps, seen, ended, cancelled, timed_out)
        if what_if is not None and result.runnable:
            result = decide_step(node, deps, what_if.outcome(name), ended, cancelled,
                                 timed_out)
        results[name] = result
    steps = tuple(results[n.name] for n in graph.nodes)
    phase, condition = _run_outcome(steps)
    return RunResult(phase, steps, (condition,))


def plan(graph: Graph, failed: Collection[str] = (), errored: Collection[str] = (),
         timeout_during: Collection[str] = ()) -> RunResult:
    """What happens when the named steps fail (or error) and every other step
    that gets to run succeeds; with `timeout_during`, when the run's deadline
    passes while those steps run (what they depend on ran before it; nothing else
    had started)."""
    if not timeout_during:
        return evaluate(graph, what_if=WhatIf(frozenset(failed), frozenset(errored)))
    what_if = WhatIf(frozenset(failed), frozenset(errored), frozenset(timeout_during),
                     _ancestors(graph, timeout_during))
    until = evaluate(graph, what_if=what_if)
    # What had happened when the deadline passed: each step that got to run, as the
    # what-if says; the others had not started.
    known = {s.name: what_if.outcome(s.name) for s in until.steps
             if s.phase in (StepPhase.SUCCEEDED, StepPhase.FAILED, StepPhase.RUNNING)}
    return evaluate(graph, known, timed_out=True)


def _ancestors(graph: Graph, names: Collection[str]) -> frozenset[str]:
    found: set[str] = set()
    todo = [d for n in names for d in graph.by_name[n].dependencies]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(graph.by_name[name].dependencies)
    return frozenset(found)


def _run_outcome(steps: Sequence[StepResult]) -> tuple[RunPhase, DecidedCondition]:
    """The run's phase and `Succeeded` condition, from the step results alone
    (never from Argo's workflow phase: contract §3)."""
    def named(pred: set[StepReason | None], phase: StepPhase | None = None) -> list[str]:
        return [s.name for s in steps
                if s.reason in pred and (phase is None or s.phase is phase)]

    if any(not s.is_done for s in steps):
        running = sum(s.phase is StepPhase.RUNNING for s in steps)
        ready = sum(s.runnable for s in steps)
        done = sum(s.is_done for s in steps)
        return RunPhase.RUNNING, DecidedCondition(
            ConditionType.SUCCEEDED, ConditionStatus.UNKNOWN, RunReason.RUNNING,
            f"{done} of {len(steps)} steps done, {running} running, {ready} ready to start")
    ended = named({StepReason.WORKFLOW_ENDED})
    timed_out = named({StepReason.RUN_TIMED_OUT})
    failed = named({StepReason.STEP_FAILED, StepReason.STEP_TIMED_OUT, StepReason.STEP_ERROR})
    cut_short = named({StepReason.CANCELLED}, StepPhase.FAILED)
    not_begun = named({StepReason.CANCELLED}, StepPhase.SKIPPED)
    skipped = named({StepReason.DEPENDENCY_FAILED})
    ignored = named({StepReason.FAILURE_IGNORED})
    by_argo = named({StepReason.SKIPPED_BY_ARGO})
    succeeded = sum(s.phase is StepPhase.SUCCEEDED for s in steps)
    also = f"; {_count(by_argo, 'step')} skipped by Argo" if by_argo else ""
    if cut_short or not_begun:  # a cancel after every step had ended changed nothing
        return RunPhase.CANCELLED, DecidedCondition(
            ConditionType.SUCCEEDED, ConditionStatus.FALSE, RunReason.CANCELLED,
            _stopped_early("cancelled (spec.cancel)", cut_short, not_begun, failed))
    if timed_out:
        return RunPhase.FAILED, DecidedCondition(
            ConditionType.SUCCEEDED, ConditionStatus.FALSE, RunReason.RUN_TIMED_OUT,
            _stopped_early("the run passed its deadline (spec.policies.timeouts.totalSeconds)",
                           named({StepReason.RUN_TIMED_OUT}, StepPhase.FAILED),
                           named({StepReason.RUN_TIMED_OUT}, StepPhase.SKIPPED), failed))
    if ended or failed:
        parts = []
        if ended:
            interrupted = named({StepReason.WORKFLOW_ENDED}, StepPhase.FAILED)
            never = named({StepReason.WORKFLOW_ENDED}, StepPhase.SKIPPED)
            parts.append("the Workflow ended early"
                         + (f"; {_count(interrupted, 'step')} interrupted" if interrupted else "")
                         + (f"; {_count(never, 'step')} never started" if never else ""))
        if failed:
            parts.append(f"{_count(failed, 'step')} failed")
        if skipped:
            parts.append(f"{_count(skipped, 'step')} skipped")
        reason = RunReason.WORKFLOW_ENDED if ended else RunReason.STEPS_FAILED
        return RunPhase.FAILED, DecidedCondition(ConditionType.SUCCEEDED, ConditionStatus.FALSE,
                                                 reason, "; ".join(parts))
    if ignored:
        return RunPhase.SUCCEEDED, DecidedCondition(
            ConditionType.SUCCEEDED, ConditionStatus.TRUE, RunReason.FAILURES_IGNORED,
            f"{_count(ignored, 'failure')} ignored (continueOnFailure); "
            f"{succeeded} of {len(steps)} steps succeeded{also}")
    reused = named({StepReason.REUSED})
    kept = f" ({len(reused)} reused from the resumed run)" if reused else ""
    return RunPhase.SUCCEEDED, DecidedCondition(
        ConditionType.SUCCEEDED, ConditionStatus.TRUE, RunReason.ALL_STEPS_SUCCEEDED,
        f"{succeeded} of {len(steps)} steps succeeded{kept}{also}" if by_argo
        else f"all {len(steps)} steps succeeded{kept}")


def _stopped_early(why: str, stopped: Sequence[str], never: Sequence[str],
                   failed: Sequence[str]) -> str:
    """The message of a run its cancel or its deadline ended: what it stopped, what
    never started, what had failed before."""
    parts = [why + (f"; {_count(stopped, 'step')} stopped" if stopped else "")
             + (f"; {_count(never, 'step')} never started" if never else "")]
    if failed:
        parts.append(f"{_count(failed, 'step')} failed before")
    return "; ".join(parts)


def argo_phase_agreement(run_phase: RunPhase, argo_phase: str) -> DecidedCondition:
    """Contract §3: whether Argo's own phase of the ended Workflow says what the
    run's steps say. Argo calls an infrastructure failure `Error`; a run has no such
    phase, so `Error` agrees with `Failed`; nor a cancel, so `Cancelled` agrees
    with Argo's `Failed` of the stopped Workflow."""
    argo_says = RunPhase.SUCCEEDED if argo_phase == ArgoPhase.SUCCEEDED else RunPhase.FAILED
    # A cancelled run's Workflow was stopped: Argo reports that as Failed.
    steps_say = RunPhase.FAILED if run_phase is RunPhase.CANCELLED else run_phase
    if argo_says is steps_say:
        return DecidedCondition(ConditionType.ARGO_PHASE_AGREES, ConditionStatus.TRUE,
                                ArgoPhaseReason.SAME_PHASE,
                                f"Argo reports the Workflow {argo_phase}, as the steps say")
    return DecidedCondition(
        ConditionType.ARGO_PHASE_AGREES, ConditionStatus.FALSE,
        ArgoPhaseReason.ARGO_PHASE_DIFFERS,
        f"Argo reports the Workflow {argo_phase}, but the steps make the run {run_phase}; "
        "the run's phase is computed from the steps (Argo misreports some DAGs, "
        "argo-workflows#13498)")


def outcome_from_argo(argo_phase: str, why: str,
                      reason: str = NodeStatusReason.NODE_STATUS_OFFLOADED
                      ) -> tuple[RunPhase, DecidedCondition]:
    """The end of a run whose steps cannot be read (Argo offloaded its node status
    to its database, or it cannot be decoded): Argo's own Workflow phase is all
    that is known, and the condition says so rather than naming steps it cannot
    see."""
    succeeded = argo_phase == ArgoPhase.SUCCEEDED
    return (RunPhase.SUCCEEDED if succeeded else RunPhase.FAILED), DecidedCondition(
        ConditionType.SUCCEEDED, ConditionStatus.TRUE if succeeded else ConditionStatus.FALSE,
        reason, f"Argo reports the Workflow {argo_phase}; {why}")


_MAX_NAMES = 5


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_NAMES])
    more = len(names) - _MAX_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def _count(names: Sequence[str], noun: str) -> str:
    return f"{len(names)} {noun}{'' if len(names) == 1 else 's'} ({_names(names)})"


def _join(text: str, note: str | None) -> str:
    return f"{text} ({note})" if note else text
