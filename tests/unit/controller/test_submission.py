"""`controller.submission` without a client: each refusal, in the order the
contract gives them, and the Workflow a run submits. The executor's reads are
tested against the fake apiserver in test_executor.py; here every read is data
(`Read`), so each row says what was read and what the run gets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from compiler.argo_defaults import Judgement
from controller.admission import InstallLimits
from controller.decide import Submission
from controller.judged import Judgements
from controller.resuming import Resumed
from controller.submission import (
    NOT_RESUMED,
    Read,
    Settings,
    Validated,
    assemble,
    judge_tool,
    refusal,
    resumption,
    tools_to_read,
)
from orchapi.api import (
    DEPTH_ANNOTATION,
    GENERATION_ANNOTATION,
    RESUMED_FROM_ANNOTATION,
    STEP_KINDS_ANNOTATION,
    Obj,
)
from orchapi.models import Orchestration

NS = "ns"
API = "orchestration.proompteng.ai/v1alpha1"
FORBIDDEN = 'the controller may not read Tool "t" in namespace "ns" (403 Forbidden): no'


def orchestration(*steps: Obj, name: str = "o") -> Obj:
    return {"apiVersion": API, "kind": "Orchestration",
            "metadata": {"name": name, "namespace": NS, "uid": f"{name}-uid", "generation": 4},
            "spec": {"steps": list(steps)}}


def container(name: str, *deps: str, **extra: Any) -> Obj:
    return {"name": name, "kind": "Container", "image": "busybox:1.36", "command": ["true"],
            "dependsOn": list(deps), **extra}


def tool_run(name: str, tool: str, *deps: str) -> Obj:
    return {"name": name, "kind": "ToolRun", "toolRef": {"name": tool},
            "dependsOn": list(deps)}


def a_run(annotations: dict[str, str] | None = None, **spec: Any) -> Obj:
    meta: Obj = {"name": "r", "namespace": NS, "uid": "r-uid", "generation": 1}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": API, "kind": "OrchestrationRun", "metadata": meta,
            "spec": {"orchestrationRef": {"name": "o"}, **spec}}


def judged(orch: Obj) -> Validated:
    return Judgements().judge(orch)


def model(orch: Obj) -> Orchestration:
    found = judged(orch).model
    assert found is not None
    return found


def nothing(_ns: str, _name: str) -> Obj | None:
    return None


DIAMOND = orchestration(container("a"), container("b", "a"), container("c", "a"),
                        container("d", "b", "c"))
TOOL: Obj = {"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
             "metadata": {"name": "t", "namespace": NS},
             "spec": {"image": "alpine:3.20", "command": ["echo"]}}
OLD_RUN: Obj = {**a_run(), "metadata": {"name": "old", "namespace": NS, "uid": "old-uid"},
                "status": {"phase": "Failed", "orchestrationGeneration": 4, "stepStatuses": [
                    {"name": "a", "kind": "Container", "phase": "Succeeded"},
                    {"name": "b", "kind": "Container", "phase": "Failed",
                     "reason": "StepFailed"}]}}
RESUMING = a_run(resumeFrom={"name": "old"})


# -- before anything is read --------------------------------------------------------
@pytest.mark.parametrize(("orch", "run", "limits", "reason"), [
    pytest.param(orchestration(container("a", "missing")), a_run(), InstallLimits(),
                 "OrchestrationInvalid", id="invalid-orchestration-first"),
    pytest.param(DIAMOND, a_run({DEPTH_ANNOTATION: "9"}), InstallLimits(),
                 "SubOrchestrationTooDeep", id="child-run-past-the-depth"),
    pytest.param(DIAMOND, a_run(), InstallLimits(allowed_kinds=frozenset({"AgentRun"})),
                 "StepKindNotAllowed", id="kind-the-install-does-not-allow"),
    pytest.param(orchestration(container("a", "missing")), a_run({DEPTH_ANNOTATION: "9"}),
                 InstallLimits(), "OrchestrationInvalid", id="invalid-before-too-deep"),
    pytest.param(DIAMOND, a_run(), InstallLimits(), None, id="allowed"),
])
def test_what_is_refused_before_anything_is_read(orch: Obj, run: Obj, limits: InstallLimits,
                                                 reason: str | None) -> None:
    refused = refusal(orch, run, judged(orch), limits, nothing)
    assert (refused.reason if refused is not None else None) == reason
    if refused is not None:
        assert refused.workflow is None and refused.message


def test_an_invalid_orchestration_names_its_problems() -> None:
    orch = orchestration(container("a", "missing"))
    refused = refusal(orch, a_run(), judged(orch), InstallLimits(), nothing)
    assert refused is not None
    assert refused.message.startswith('Orchestration "o" is invalid: ')
    assert refused.message.endswith('spec.steps[0].dependsOn[0]: step "missing" does not exist')


# -- a resumed run: its old run, read live ------------------------------------------
@pytest.mark.parametrize(("old", "trusted", "reason", "says"), [
    pytest.param(Read(None, FORBIDDEN), False, "ReferenceForbidden", FORBIDDEN,
                 id="old-run-may-not-be-read"),
    pytest.param(Read(OLD_RUN), False, "ResumeRefused", "did not write",
                 id="old-status-not-the-controllers"),
    pytest.param(Read(None), False, "ResumeRefused", "does not exist",
                 id="old-run-missing"),
    pytest.param(Read({**OLD_RUN, "status": {**OLD_RUN["status"], "phase": "Running"}}), True,
                 "ResumeRefused", "has not ended", id="old-run-still-running"),
])
def test_a_resumed_run_is_refused(old: Read, trusted: bool, reason: str, says: str) -> None:
    found = resumption(RESUMING, DIAMOND, model(DIAMOND), old, trusted)
    assert isinstance(found, Submission) and found.workflow is None
    assert found.reason == reason and says in found.message


def test_a_resumed_run_reuses_what_succeeded() -> None:
    found = resumption(RESUMING, DIAMOND, model(DIAMOND), Read(OLD_RUN), True)
    assert isinstance(found, Resumed) and found.reused == frozenset({"a"})
    assert found.annotations[RESUMED_FROM_ANNOTATION] == "old"


# -- Tools: those of the steps that run, each judged as orch judges one ------------
def test_the_tools_read_are_those_of_steps_that_run_each_once_sorted() -> None:
    orch = orchestration(tool_run("x", "zeta"), tool_run("y", "alpha"), tool_run("z", "zeta"),
                         tool_run("w", "beta"))
    assert tools_to_read(model(orch), frozenset()) == ["alpha", "beta", "zeta"]
    assert tools_to_read(model(orch), frozenset({"w"})) == ["alpha", "zeta"]


@pytest.mark.parametrize(("read", "outcome"), [
    pytest.param(Read(None, FORBIDDEN), "ReferenceForbidden", id="may-not-be-read"),
    pytest.param(Read(None), None, id="missing-is-the-compilers-ToolNotFound"),
    pytest.param(Read({**TOOL, "spec": {"image": "alpine:3.20", "command": "echo"}}),
                 "ToolInvalid",
                 id="invalid-tool"),
    pytest.param(Read(TOOL), "Tool", id="valid-tool"),
])
def test_a_tool_as_read(read: Read, outcome: str | None) -> None:
    found = judge_tool("t", read)
    shown = found.reason if isinstance(found, Submission) else (
        type(found).__name__ if found is not None else None)
    assert shown == outcome


# -- the Workflow -------------------------------------------------------------------
def test_the_workflow_is_owned_by_the_run_and_annotated_for_the_mirror() -> None:
    run = a_run()
    resumed = Resumed(frozenset(), {RESUMED_FROM_ANNOTATION: "old"})
    found = assemble(DIAMOND, run, model(DIAMOND), resumed, {}, Settings(), Judgement(),
                     nothing)
    assert found.workflow is not None and found.reason == ""
    meta = found.workflow["metadata"]
    assert meta["ownerReferences"] == [{"apiVersion": API, "kind": "OrchestrationRun",
                                        "name": "r", "uid": "r-uid", "controller": True}]
    assert json.loads(meta["annotations"][STEP_KINDS_ANNOTATION]) == dict.fromkeys(
        "abcd", "Container")
    assert meta["annotations"][GENERATION_ANNOTATION] == "4"
    assert meta["annotations"][RESUMED_FROM_ANNOTATION] == "old"


def test_a_default_retry_strategy_of_the_cluster_is_pinned_away() -> None:
    plain = assemble(DIAMOND, a_run(), model(DIAMOND), NOT_RESUMED, {}, Settings(),
                     Judgement(), nothing).workflow
    pinned = assemble(DIAMOND, a_run(), model(DIAMOND), NOT_RESUMED, {}, Settings(),
                      Judgement(pinned=("retryStrategy",), pin_retries=True),
                      nothing).workflow
    assert plain is not None and pinned is not None
    assert not any("retryStrategy" in t for t in plain["spec"]["templates"])
    assert all("retryStrategy" in t for t in pinned["spec"]["templates"])


def test_a_missing_tool_refuses_the_run_with_the_compilers_reason() -> None:
    orch = orchestration(tool_run("x", "t"))
    found = assemble(orch, a_run(), model(orch), NOT_RESUMED, {}, Settings(), Judgement(),
                     nothing)
    assert (found.workflow, found.reason) == (None, "ToolNotFound")
    assert 'create the Tool (tools.proompteng.ai/v1alpha1) in namespace "ns"' in found.message


def test_a_workflow_too_large_is_the_reason_and_every_problem_is_named() -> None:
    """A run whose Workflow cannot fit (its parameters) is refused `WorkflowTooLarge`,
    the reason that says what to change; the message names every problem."""
    orch = orchestration(tool_run("x", "t"), container("a"))
    run = a_run(parameters={"big": "x" * (1200 * 1024)})
    found = assemble(orch, run, model(orch), NOT_RESUMED, {}, Settings(), Judgement(),
                     nothing)
    assert (found.workflow, found.reason) == (None, "WorkflowTooLarge")
    assert found.message.startswith("spec: the compiled Workflow is ")
    assert 'Tool "t" is not in namespace "ns"' in found.message
