"""Gates (compiler.gates): their encoding, and the controller's release rule as a
table of what the gate's sources ended as (contract §3, §8)."""

from __future__ import annotations

import pytest

from compiler.diagnostics import Collector
from compiler.gates import (
    GATE_TEMPLATE,
    decide_gate,
    decode_sources,
    encode_sources,
    gate_task,
    sources_of_node,
    sources_of_task,
)
from compiler.validate import check_entrypoint
from orchapi.semantics import StepResult
from orchapi.vocabulary import Reason, StepPhase, StepReason

OK = StepResult("a", StepPhase.SUCCEEDED, None, "succeeded")
REUSED = StepResult("r", StepPhase.SUCCEEDED, StepReason.REUSED, "reused")
IGNORED = StepResult("i", StepPhase.FAILED, StepReason.FAILURE_IGNORED, "failed")
RUNNING = StepResult("run", StepPhase.RUNNING, None, "running")
PENDING = StepResult("p", StepPhase.PENDING, None, "waiting for x")
FAILED = StepResult("f", StepPhase.FAILED, StepReason.STEP_FAILED, "failed")
TIMED_OUT = StepResult("t", StepPhase.FAILED, StepReason.STEP_TIMED_OUT, "timed out")
ERRORED = StepResult("e", StepPhase.FAILED, StepReason.STEP_ERROR, "error")
SKIPPED = StepResult("s", StepPhase.SKIPPED, StepReason.DEPENDENCY_FAILED, "skipped")
CANCELLED = StepResult("c", StepPhase.SKIPPED, StepReason.CANCELLED, "cancelled")
STOPPED = StepResult("w", StepPhase.FAILED, StepReason.WORKFLOW_ENDED, "ended")


@pytest.mark.parametrize(("sources", "phase", "says"), [
    pytest.param([OK], "Succeeded", "dependencies ended: a", id="succeeded"),
    pytest.param([OK, REUSED, IGNORED], "Succeeded", "dependencies ended: a, r, i",
                 id="reused-and-ignored-failure-let-it-run"),
    pytest.param([OK, RUNNING], None, None, id="one-still-running-waits"),
    pytest.param([PENDING], None, None, id="not-started-waits"),
    pytest.param([RUNNING, FAILED], "Failed", 'dependency "f" failed',
                 id="a-failure-fails-it-at-once"),
    pytest.param([TIMED_OUT], "Failed", 'dependency "t" failed', id="timed-out"),
    pytest.param([ERRORED], "Failed", 'dependency "e" errored',
                 id="an-error-even-when-best-effort"),
    pytest.param([OK, SKIPPED], "Failed", 'dependency "s" was skipped',
                 id="skipped-propagates"),
    pytest.param([FAILED, CANCELLED], None, None, id="the-run-was-cancelled"),
    pytest.param([OK, STOPPED], None, None, id="the-workflow-ended"),
])
def test_release(sources: list[StepResult], phase: str | None, says: str | None) -> None:
    release = decide_gate(sources)
    assert (release.phase if release else None, release.message if release else None) == (
        phase, says)


def test_many_sources_are_named_briefly() -> None:
    sources = [StepResult(f"s{i}", StepPhase.SUCCEEDED, None, "") for i in range(9)]
    release = decide_gate(sources)
    assert release is not None
    assert release.message == "dependencies ended: s0, s1, s2, s3, s4 and 4 more"


def test_sources_travel_in_the_task_and_come_back_from_the_node() -> None:
    task = gate_task("orch-gate-1", ["build", "test-2"])
    assert task["template"] == GATE_TEMPLATE
    assert sources_of_task(task) == ("build", "test-2")
    node = {"templateName": GATE_TEMPLATE, "inputs": task["arguments"]}
    assert sources_of_node(node) == ("build", "test-2")
    assert sources_of_node({**node, "templateName": "wait"}) is None


@pytest.mark.parametrize("text", [None, 3, "", "not json", "[]", '{"after": []}',
                                  '{"after": "a"}', '{"after": ["a", 1]}', '{"after": [""]}'])
def test_what_is_not_a_gate_decodes_to_none(text: object) -> None:
    assert decode_sources(text) is None


def test_encoding_round_trips() -> None:
    assert decode_sources(encode_sources(["a", "b-c"])) == ("a", "b-c")


def test_the_entrypoint_cannot_take_the_gates_name() -> None:
    out = Collector()
    check_entrypoint({"entrypoint": GATE_TEMPLATE}, out)
    assert [d.reason for d in out.items] == [Reason.ENTRYPOINT_MISSING]
    assert "gate template" in out.items[0].message
