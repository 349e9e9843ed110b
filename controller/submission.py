"""The Workflow a run submits, or why it submits none, as pure functions of what
the executor read (contract §2, §3, §5, §6).

Why pure: the order of the refusals is the contract (an invalid Orchestration
before what the install allows; a resumed run's old run before its Tools; a Tool
the controller may not read before one that is invalid; `WorkflowTooLarge` over
any other problem of the compiled Workflow), and it is easiest to read, and to
table-test, without a client. The executor (`controller.reconcile`) reads, in
this order and only as far as these functions let it go:

    refusal(orchestration, run, judged)         nothing read yet
    resumed_from(run)          -> read the old run   -> resumption(...)
    tools_to_read(model, reused) -> read each Tool   -> judge_tool(...)
    assemble(...)                                    the Workflow to create

A read the apiserver refused (403) is a `Read` with `forbidden` set: a terminal
refusal (`ReferenceForbidden`), never a retry (contract §6).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from compiler.argo_defaults import Judgement, pin_retries
from compiler.compiled import steps_of
from compiler.diagnostics import Diagnostic
from compiler.pods import DEFAULT_PODS, PodSettings
from compiler.render import condition_message
from compiler.step_fields import ref_of
from compiler.tools import Tool
from controller.admission import (
    InstallLimits,
    child_slots,
    descendant_need,
    install_refusal,
    run_budget,
    share_budget,
)
from controller.decide import Submission
from controller.mapping import Lookup
from controller.resuming import NotResumable, Resumed, plan_resumption, resume_from
from controller.validation import check_tool_object, compile_run
from orchapi.api import (
    GENERATION_ANNOTATION,
    REUSED_RECORDS_ANNOTATION,
    RUN_ACTIVE_FINALIZER,
    STEP_KINDS_ANNOTATION,
    TOOL_RUN,
    Obj,
)
from orchapi.graph import build_graph
from orchapi.models import Orchestration
from orchapi.vocabulary import Reason, SubmitReason


@dataclass(frozen=True)
class Settings:
    """How this install compiles what it submits (contract §4, §6)."""

    service_account: str | None = None
    pods: PodSettings = DEFAULT_PODS
    limits: InstallLimits = field(default_factory=InstallLimits)


@dataclass(frozen=True)
class Validated:
    """An Orchestration's validation: its problems, and its model when it has none."""

    problems: Sequence[Diagnostic]
    model: Orchestration | None


@dataclass(frozen=True)
class Read:
    """What reading one object the run names gave: the object (None: not found),
    or, when the apiserver refused to let the controller read it, why."""

    found: Obj | None
    forbidden: str | None = None


NOT_RESUMED = Resumed(frozenset(), {})


def forbidden_message(kind: str, name: str, namespace: str, status: int, reason: str,
                      message: str) -> str:
    return (f'the controller may not read {kind} "{name}" in namespace "{namespace}" '
            f"({status} {reason}): {message}")


def refusal(orchestration: Obj, run: Obj, judged: Validated, limits: InstallLimits,
            lookup: Lookup) -> Submission | None:
    """Why the run is refused before anything else is read: its Orchestration is
    invalid, or the install does not allow it (`controller.admission`)."""
    if judged.model is None:
        return Submission(None, SubmitReason.ORCHESTRATION_INVALID,
                          f'Orchestration "{orchestration["metadata"]["name"]}" is invalid: '
                          + condition_message(list(judged.problems)))
    refused = install_refusal(orchestration, run, limits, lookup)
    return Submission(None, *refused) if refused is not None else None


def resumption(run: Obj, orchestration: Obj, model: Orchestration, old: Read,
               old_trusted: bool, old_workflows: Sequence[Obj] = ()) -> Resumed | Submission:
    """What a resumed run reuses of its old run (`old`, read live), or why it is
    refused: the old run may not be read, its status is not the controller's (its
    steps' results would be reused as they stand), or it cannot be resumed."""
    if old.forbidden is not None:
        return Submission(None, SubmitReason.REFERENCE_FORBIDDEN, old.forbidden)
    name = (resume_from(run) or ("",))[0]
    if old.found is not None and not old_trusted:
        return Submission(None, SubmitReason.RESUME_REFUSED,
                          f'run "{name}" has a status this controller did not write; its '
                          "results cannot be reused (submit a new run)")
    resumed = plan_resumption(run, orchestration, build_graph(model.spec.steps), old.found,
                              old_workflows)
    if isinstance(resumed, NotResumable):
        return Submission(None, resumed.reason, resumed.message)
    return resumed


def tools_to_read(model: Orchestration, reused: frozenset[str]) -> list[str]:
    """The Tools the run's ToolRun steps name, but those of reused steps, sorted."""
    return sorted({n for s in model.spec.steps if s.kind == TOOL_RUN
                   and s.name not in reused and (n := ref_of(s, "toolRef"))})


def judge_tool(name: str, read: Read) -> Tool | Submission | None:
    """The Tool as `orch` judges one, why it refuses the run, or None when it does
    not exist (then the compiler says `ToolNotFound`)."""
    if read.forbidden is not None:
        return Submission(None, SubmitReason.REFERENCE_FORBIDDEN, read.forbidden)
    if read.found is None:
        return None
    problems, tool = check_tool_object(read.found)
    if tool is None:
        return Submission(None, SubmitReason.TOOL_INVALID,
                          f'Tool "{name}" is invalid: ' + condition_message(problems))
    return tool


def assemble(orchestration: Obj, run: Obj, model: Orchestration, resumed: Resumed,
             tools: Mapping[str, Tool], settings: Settings, defaults: Judgement,
             lookup: Lookup) -> Submission:
    """The run's Workflow, compiled, owned by the run and annotated for the mirror;
    or the compiler's refusal (`WorkflowTooLarge` first: it says what to change)."""
    problems, compiled = compile_run(model, run, settings.service_account, settings.pods,
                                     resumed.reused, tools,
                                     budgets(orchestration, run, settings.limits, lookup))
    if compiled is None:
        reason = (str(Reason.WORKFLOW_TOO_LARGE)
                  if any(p.reason is Reason.WORKFLOW_TOO_LARGE for p in problems)
                  else str(problems[0].reason))
        return Submission(None, reason, condition_message(problems))
    meta = run["metadata"]
    bodies = []
    for body in compiled.workflows:
        if defaults.pin_retries:  # a default retryStrategy: no step, wait or run retried by it
            pin_retries(body)
        body["metadata"]["ownerReferences"] = [{
            "apiVersion": run["apiVersion"], "kind": run["kind"], "name": meta["name"],
            "uid": meta["uid"], "controller": True}]
        # Each Workflow of a split run names the kinds of its own steps only.
        own = {t["name"] for t in steps_of(body)} if compiled.is_split else None
        body["metadata"]["annotations"] = {
            **(body["metadata"].get("annotations") or {}),  # the compiler's (a deadline)
            STEP_KINDS_ANNOTATION: json.dumps({n.name: n.kind for n in compiled.graph.nodes
                                               if own is None or n.name in own},
                                              separators=(",", ":")),
            GENERATION_ANNOTATION: str(orchestration["metadata"].get("generation") or 0),
            **defaults.annotation(),
            **(resumed.annotations if own is None else own_records(resumed.annotations, own)),
        }
        if compiled.is_split:  # kept until the run has ended (docs/scale.md, TTL)
            body["metadata"]["finalizers"] = [RUN_ACTIVE_FINALIZER]
        bodies.append(body)
    if compiled.is_split:
        return Submission(bodies[0], split=tuple(bodies))
    return Submission(bodies[0])


def own_records(annotations: Mapping[str, str], own: set[str]) -> dict[str, str]:
    """A resumed split run's annotations for one of its Workflows: the records of
    its own reused steps only (annotations hold 256 KiB in all)."""
    out = dict(annotations)
    if REUSED_RECORDS_ANNOTATION in out:
        records = json.loads(out[REUSED_RECORDS_ANNOTATION])
        out[REUSED_RECORDS_ANNOTATION] = json.dumps(
            [r for r in records if r.get("name") in own], separators=(",", ":"),
            ensure_ascii=False)
    return out


def budgets(orchestration: Obj, run: Obj, limits: InstallLimits,
            lookup: Lookup) -> dict[str, int]:
    """Each SubOrchestration step's share of the run's descendant budget, split by
    what the Orchestrations it calls need now (as `lookup` holds them; `refusal`
    has made sure the run's own children fit)."""
    budget = run_budget(run, limits.max_descendants) or 0
    meta = orchestration["metadata"]
    ns, name = meta["namespace"], meta["name"]

    def called(other: str) -> Obj | None:
        return orchestration if other == name else lookup(ns, other)
    needs = descendant_need(orchestration, called, budget)
    return share_budget(budget, child_slots(orchestration), needs) or {}
