"""Resume (contract §3): a new run with `spec.resumeFrom: {name, rerun}` reruns
only what must, and reuses the rest of the old run's results.

The decision is pure and made once, when the new run is submitted: every step
that did not end `Succeeded` in the old run reruns, so does every step named in
`rerun`, and so does every step downstream of one that reruns (its inputs may
change). The others are reused: compiled as no-op tasks (`compiler.emit`), they
end `Succeeded`, reason `Reused` (`Seen.REUSED` in `orchapi.semantics`), with
the old run's step record. Since what reruns is closed downstream, what is reused
is closed upstream: a reused step never waits on a step that runs again.

The controller, `orch resume` and `orch plan --resume-from` all call these
functions, so the cluster and the offline plan make the same decision.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from orchapi.api import Obj
from orchapi.graph import Graph, topological_order
from orchapi.vocabulary import RUN_DONE, StepPhase, StepReason

if TYPE_CHECKING:  # loaded where a resumed run is planned: compiling one needs none of it
    from orchapi.semantics import Observation, RunResult

# The template of a reused step's task: a zero-length suspend (no pod, succeeds at
# once, as compiler.outcome's task); its reserved name tells the mirror which steps
# are reused, from the Workflow's structure alone.
REUSED_TEMPLATE = "orch-reused"
NO_OP: dict[str, Any] = {"suspend": {"duration": "0"}}


def is_reused_task(task: Mapping[str, Any]) -> bool:
    return task.get("template") == REUSED_TEMPLATE


@dataclass(frozen=True)
class ResumeDecision:
    resumed_from: str
    reused: tuple[str, ...]  # declaration order
    rerun: tuple[str, ...]  # declaration order
    why: Mapping[str, str]  # each rerun step -> why it runs again

    def known(self) -> dict[str, Observation]:
        """What `orchapi.semantics.evaluate` knows of the reused steps."""
        from orchapi.semantics import Observation, Seen

        note = reused_note(self.resumed_from)
        return {name: Observation(Seen.REUSED, note) for name in self.reused}


def reused_note(resumed_from: str) -> str:
    """The message of a reused step."""
    return f'reused from run "{resumed_from}"'


def old_steps(old_run: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The old run's step records by name."""
    status = old_run.get("status") or {}
    return {str(s["name"]): s for s in status.get("stepStatuses") or ()
            if isinstance(s, Mapping) and s.get("name")}


def decide_resume(graph: Graph, resumed_from: str, old: Mapping[str, Mapping[str, Any]],
                  rerun: Collection[str] = ()) -> ResumeDecision:
    """Which steps rerun and why; the others are reused. `old` holds the old run's
    step records by name (a reused step of the old run counts as `Succeeded`)."""
    why: dict[str, str] = {}
    for name in topological_order(graph):
        record = old.get(name)
        phase = (record or {}).get("phase")
        if record is None:
            why[name] = f'run "{resumed_from}" has no record of it'
        elif phase != StepPhase.SUCCEEDED:
            reason = record.get("reason")
            why[name] = f"it ended {phase or 'Pending'}" + (f" ({reason})" if reason else "")
        elif name in rerun:
            why[name] = "named in rerun"
        else:
            upstream = next((d for d in graph.by_name[name].dependencies if d in why), None)
            if upstream is not None:
                why[name] = f'it depends on "{upstream}", which reruns'
    return ResumeDecision(
        resumed_from,
        reused=tuple(n for n in graph.names if n not in why),
        rerun=tuple(n for n in graph.names if n in why),
        why={n: why[n] for n in graph.names if n in why})


def resume_problem(old_run: Mapping[str, Any] | None, resumed_from: str, orchestration: str,
                   generation: int | None, graph: Graph,
                   rerun: Sequence[str] = (), check_generation: bool = True) -> str | None:
    """Why a run cannot resume `resumed_from` (in its own namespace), or None. The
    first problem, in the order a person would fix them. `check_generation` False:
    the generation is known on neither side (an offline plan of files saved by
    hand), so it is not compared."""
    if old_run is None:
        return f'the run to resume from, "{resumed_from}", does not exist in this namespace'
    ref = ((old_run.get("spec") or {}).get("orchestrationRef") or {}).get("name")
    if ref != orchestration:
        return (f'run "{resumed_from}" ran Orchestration "{ref}", not "{orchestration}"; a '
                "resumed run runs the same Orchestration")
    status = old_run.get("status") or {}
    phase = status.get("phase") or "Pending"
    if phase not in RUN_DONE:
        return (f'run "{resumed_from}" has not ended (it is {phase}); only an ended run '
                "can be resumed")
    recorded = status.get("orchestrationGeneration")
    if check_generation and (recorded is None or recorded != generation):
        ran = f"generation {recorded}" if recorded is not None else "an unknown generation"
        return (f'run "{resumed_from}" ran {ran} of Orchestration "{orchestration}", which '
                f"is now at generation {generation}; a resumed run must run the same "
                "generation (submit a new run instead)")
    if not status.get("stepStatuses") and not status.get("stepCounts"):
        return (f'run "{resumed_from}" ended before any step was submitted; there is '
                "nothing to resume (submit a new run instead)")
    for name in rerun:
        if name not in graph.by_name:
            from orchapi.names import suggest  # (the models with it: only when needed)

            near = suggest(name, graph.names)
            hint = f'; did you mean "{near}"?' if near else ""
            return f'rerun names "{name}", which is not a step of "{orchestration}"{hint}'
    return None


# What a reused step keeps of the old run's record: when it ran, how often, what it
# created (its message is replaced; nothing else is the step's own record).
RECORD_KEYS = ("name", "kind", "startedAt", "finishedAt", "attempt", "resourceRef")


def reused_records(decision: ResumeDecision, old: Mapping[str, Mapping[str, Any]]
                   ) -> list[Obj]:
    """The new run's records of its reused steps: the old run's (start, finish,
    attempt, what the step created), `Succeeded` with reason `Reused`."""
    out: list[Obj] = []
    for name in decision.reused:
        record = {k: v for k, v in old[name].items() if k in RECORD_KEYS}
        record.update(phase=str(StepPhase.SUCCEEDED), reason=str(StepReason.REUSED),
                      message=reused_note(decision.resumed_from))
        out.append(record)
    return out


def plan_resume(graph: Graph, decision: ResumeDecision, failed: Collection[str] = (),
                errored: Collection[str] = ()) -> RunResult:
    """`orch plan --resume-from`: the resumed run when the named steps fail (or
    error) and every other step that reruns succeeds; each rerun step's message
    says why it runs again."""
    from orchapi.semantics import RunResult, WhatIf, evaluate

    result = evaluate(graph, decision.known(),
                      what_if=WhatIf(frozenset(failed), frozenset(errored)))
    steps = tuple(
        replace(s, message=f"reruns: {decision.why[s.name]}; {s.message}")
        if s.name in decision.why else s for s in result.steps)
    return RunResult(result.phase, steps, result.conditions)
