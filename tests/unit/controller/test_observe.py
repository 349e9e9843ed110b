"""How the Workflow is ending, read from its spec and status (never a message)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.kinds.wait import WaitSpec
from controller.argo_messages import KUBELET_ACTIVE_DEADLINE, WAIT_TIMED_OUT
from controller.observe import Ending, last_attempt, observe
from orchapi.semantics import Seen

NOW = "2026-01-01T00:00:30Z"


def workflow(phase: str = "Running", **spec: Any) -> dict[str, Any]:
    status = {"phase": phase, "startedAt": "2026-01-01T00:00:00.700000Z"}
    if phase != "Running":
        status["finishedAt"] = "2026-01-01T00:00:20Z"
    return {"spec": {"entrypoint": "main", **spec}, "status": status}


@pytest.mark.parametrize(("wf", "now", "expected"), [
    pytest.param(workflow(), NOW, Ending(), id="nothing"),
    pytest.param(workflow(shutdown=""), NOW, Ending(), id="empty-shutdown-is-none"),
    pytest.param(workflow(shutdown="Stop"), NOW, Ending("Stop"), id="stop"),
    pytest.param(
        # Argo truncates startedAt to the second before adding the seconds
        workflow(activeDeadlineSeconds=10), NOW,
        Ending(None, datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC), True),
        id="running-past-deadline-by-now"),
    pytest.param(workflow(activeDeadlineSeconds=60), NOW,
                 Ending(None, datetime(2026, 1, 1, 0, 1, 0, tzinfo=UTC), False),
                 id="running-before-deadline"),
    pytest.param(
        # finished at :20, before its deadline at :25; `now` does not matter then
        workflow("Failed", activeDeadlineSeconds=25), NOW,
        Ending(None, datetime(2026, 1, 1, 0, 0, 25, tzinfo=UTC), False),
        id="finished-before-deadline"),
    pytest.param(workflow("Failed", activeDeadlineSeconds=20), NOW,
                 Ending(None, datetime(2026, 1, 1, 0, 0, 20, tzinfo=UTC), True),
                 id="finished-at-deadline"),
])
def test_ending_of(wf: dict[str, Any], now: str, expected: Ending) -> None:
    assert Ending.of(wf, now) == expected


def test_retry_attempts_are_the_children_argo_flags_retried() -> None:
    nodes: dict[str, dict[str, Any]] = {
        "r": {"id": "r", "type": "Retry", "phase": "Failed", "children": ["h", "0", "1"]},
        "h": {"id": "h", "phase": "Succeeded", "nodeFlag": {"hooked": True}},
        "0": {"id": "0", "phase": "Failed", "nodeFlag": {"retried": True}},
        "1": {"id": "1", "phase": "Error", "nodeFlag": {"retried": True}},
    }
    assert last_attempt(nodes["r"], nodes)["id"] == "1"
    # Attempts missing from the map: the Retry node stands for itself.
    assert last_attempt({"type": "Retry", "children": ["gone"]}, {})["children"] == ["gone"]


@pytest.mark.parametrize(("phase", "state"), [
    ("Pending", Seen.NOT_STARTED), ("Omitted", Seen.NOT_STARTED),
    ("Running", Seen.RUNNING), ("Succeeded", Seen.SUCCEEDED),
    ("Skipped", Seen.SKIPPED), ("Failed", Seen.FAILED), ("Error", Seen.ERRORED),
])
def test_phase_alone(phase: str, state: Seen) -> None:
    assert observe({"phase": phase}, {}, Ending(), has_timeout=False).state is state


# -- property: text other programs wrote never decides the classification ----------
ENDINGS = st.sampled_from([
    Ending(), Ending("Stop"), Ending("Terminate"),
    Ending(None, datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC), True),
])
WORDS = st.sampled_from(["shutdown", "Shutdown", "timeout", "timed out", "deadline",
                         "DeadlineExceeded", "Stopped with strategy 'Stop'",
                         "workflow shutdown with strategy: Stop", "Step exceeded its deadline",
                         "terminated", "imminent node shutdown", "\n", "'"])
TEXT = st.lists(st.one_of(WORDS, st.text(max_size=20)), max_size=6).map(" ".join)


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(["Failed", "Error"]), TEXT, ENDINGS, st.booleans(), st.booleans())
def test_a_termination_message_never_changes_the_classification(
        phase: str, words: str, ending: Ending, has_timeout: bool, retry: bool) -> None:
    # Whatever a program writes as its termination message reaches the node as
    # "main: <reason> (exit code N): <message>" (operator.go inferFailedReason).
    def classify(message: str) -> Seen:
        node: dict[str, Any] = {"phase": phase, "message": message,
                                "finishedAt": "2026-01-01T00:00:05Z"}
        nodes: dict[str, dict[str, Any]] = {}
        if retry:  # the same text on the last attempt of a Retry node
            nodes["0"] = {**node, "nodeFlag": {"retried": True}}
            node = {"type": "Retry", "phase": phase, "message": "No more retries left",
                    "children": ["0"], "finishedAt": "2026-01-01T00:00:05Z"}
        return observe(node, nodes, ending, has_timeout).state

    assert classify(f"main: Error (exit code 1): {words}") == classify("main: Error (exit code 1)")


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(["Failed", "Error"]), TEXT, st.booleans())
def test_without_shutdown_deadline_or_timeout_a_message_is_never_read(
        phase: str, words: str, has_timeout: bool) -> None:
    # No spec.shutdown, no deadline: a node is its own failure (or a timeout only for
    # a step with a timeout and one of the two fixed messages), whatever it says.
    state = observe({"phase": phase, "message": words}, {}, Ending(), has_timeout).state
    if phase == "Error":
        assert state is Seen.ERRORED
    elif has_timeout and words in ("timeout", KUBELET_ACTIVE_DEADLINE):
        assert state is Seen.TIMED_OUT
    else:
        assert state is Seen.FAILED


# -- ApprovalGate and SignalWait: suspend nodes the controller decides ----------------
def wait_node(phase: str, message: str | None = None, timeout: int | None = 30,
              kind: str = "ApprovalGate") -> dict[str, Any]:
    spec = WaitSpec(kind, policy="deploy", signal="ready", timeout_seconds=timeout)
    node: dict[str, Any] = {"type": "Suspend", "phase": phase,
                            "inputs": {"parameters": [{"name": "wait", "value": spec.encode()}]}}
    if message is not None:
        node["message"] = message
    return node


@pytest.mark.parametrize(("kind", "says"), [
    ("ApprovalGate", "Waiting for approval of deploy"), ("SignalWait", "Waiting for signal ready"),
])
def test_a_waiting_wait_says_what_it_waits_for(kind: str, says: str) -> None:
    seen = observe(wait_node("Running", kind=kind), {}, Ending(), has_timeout=False)
    assert (seen.state, seen.message) == (Seen.RUNNING, says)


@pytest.mark.parametrize(("node", "state"), [
    pytest.param(wait_node("Failed", WAIT_TIMED_OUT), Seen.TIMED_OUT, id="orch-timed-out"),
    pytest.param(wait_node("Failed", WAIT_TIMED_OUT, timeout=None), Seen.FAILED,
                 id="no-timeout-so-not-a-timeout"),
    pytest.param(wait_node("Failed", "approval policy deploy is denied"), Seen.FAILED,
                 id="denied"),
    pytest.param(wait_node("Failed", f"{WAIT_TIMED_OUT} "), Seen.FAILED,
                 id="only-the-whole-message"),
    pytest.param({**wait_node("Failed", WAIT_TIMED_OUT), "type": "Pod"}, Seen.FAILED,
                 id="only-a-suspend-node"),
    pytest.param(wait_node("Succeeded", "approval policy deploy is approved"),
                 Seen.SUCCEEDED, id="approved"),
])
def test_a_failed_wait_is_a_timeout_only_by_orchs_own_message(node: dict[str, Any],
                                                                state: Seen) -> None:
    assert observe(node, {}, Ending(), has_timeout=False).state is state


def test_a_stopped_workflow_interrupts_a_wait() -> None:
    node = wait_node("Failed", "Stopped with strategy 'Stop'")
    assert observe(node, {}, Ending("Stop"), has_timeout=False).state is Seen.INTERRUPTED
