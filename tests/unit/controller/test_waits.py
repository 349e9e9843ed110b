"""ApprovalGate and SignalWait decisions (controller.waits) and the `wait`
parameter they are read from (compiler.kinds.wait)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.kinds.wait import WaitSpec, decode_wait, wait_of_node
from controller.argo_messages import WAIT_TIMED_OUT, says_wait_timed_out
from controller.waits import (
    APPROVING,
    DENYING,
    Verdict,
    WaitingNode,
    decide_wait,
    delivery_matches,
    waiting_nodes,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def gate(timeout: int | None = None) -> WaitingNode:
    return WaitingNode("n1", "gate", WaitSpec("ApprovalGate", policy="p",
                                              timeout_seconds=timeout), T0)


def signal_wait(signal: str | None = "s", delivery: str | None = "d",
                timeout: int | None = None) -> WaitingNode:
    return WaitingNode("n2", "wait", WaitSpec("SignalWait", signal=signal, delivery_id=delivery,
                                              timeout_seconds=timeout), T0)


def policy(phase: str | None) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "status": {} if phase is None else {"phase": phase}}


def delivery(signal: str = "s", delivery_id: str | None = "d", name: str = "sd") -> dict[str, Any]:
    spec: dict[str, Any] = {"signalRef": {"name": signal}}
    if delivery_id is not None:
        spec["deliveryId"] = delivery_id
    return {"metadata": {"name": name}, "spec": spec}


def mixed_case(word: str) -> list[str]:
    return [word, word.upper(), word.capitalize(), "".join(
        c.upper() if i % 2 else c for i, c in enumerate(word))]


@pytest.mark.parametrize("phase", [p for w in sorted(APPROVING) for p in mixed_case(w)])
def test_each_approving_phase_in_any_case_passes(phase: str) -> None:
    decision = decide_wait(gate(), T0, policy(phase))
    assert decision.verdict is Verdict.PASSED
    assert decision.message == f"approval policy p is {phase.lower()}"


@pytest.mark.parametrize("phase", [p for w in sorted(DENYING) for p in mixed_case(w)])
def test_each_denying_phase_in_any_case_fails_with_the_decision(phase: str) -> None:
    decision = decide_wait(gate(timeout=1), T0 + timedelta(hours=1), policy(phase))
    assert (decision.verdict, decision.message) == (
        Verdict.FAILED, f"approval policy p is {phase.lower()}")


@pytest.mark.parametrize("phase", [None, "", "Pending", "approve", "Approved ", "unknown"])
def test_other_phases_wait(phase: str | None) -> None:
    decision = decide_wait(gate(timeout=60), T0 + timedelta(seconds=59), policy(phase))
    assert decision.verdict is Verdict.WAITING
    assert decision.message == "Waiting for approval of p"
    assert decision.deadline == T0 + timedelta(seconds=60)


def test_a_missing_policy_fails_as_the_reference_does() -> None:
    decision = decide_wait(gate(), T0, None)
    assert (decision.verdict, decision.message) == (
        Verdict.POLICY_MISSING, "approval policy p not found")


@pytest.mark.parametrize(("wait", "found", "passes"), [
    pytest.param(signal_wait(), delivery(), True, id="both-match"),
    pytest.param(signal_wait(), delivery(signal="other"), False, id="another-signal"),
    pytest.param(signal_wait(), delivery(delivery_id="other"), False, id="another-delivery-id"),
    pytest.param(signal_wait(), delivery(delivery_id=None), False, id="delivery-without-id"),
    pytest.param(signal_wait(delivery=None), delivery(delivery_id="any"), True,
                 id="signal-only-wait"),
    pytest.param(signal_wait(signal=None), delivery(signal="any"), True,
                 id="delivery-id-only-wait"),
    pytest.param(signal_wait(), {"metadata": {"name": "d"}, "spec": {"signalRef": "s"}}, False,
                 id="malformed-delivery"),
    pytest.param(signal_wait(), {"metadata": {"name": "d"}}, False, id="no-spec"),
])
def test_signal_deliveries_match_by_spec(wait: WaitingNode, found: dict[str, Any],
                                         passes: bool) -> None:
    decision = decide_wait(wait, T0, deliveries=[found])
    assert decision.verdict is (Verdict.PASSED if passes else Verdict.WAITING)
    if passes:
        assert decision.message.endswith(f"delivered (SignalDelivery {found['metadata']['name']})")


def test_a_delivery_named_like_the_delivery_id_is_not_a_match() -> None:
    """The old translation waited for a SignalDelivery *named* by deliveryId."""
    assert not delivery_matches(signal_wait().spec, delivery(delivery_id=None, name="d"))


@pytest.mark.parametrize(("wait", "now", "verdict"), [
    pytest.param(signal_wait(timeout=30), T0 + timedelta(seconds=29), Verdict.WAITING,
                 id="before"),
    pytest.param(signal_wait(timeout=30), T0 + timedelta(seconds=30), Verdict.TIMED_OUT,
                 id="at"),
    pytest.param(signal_wait(timeout=0), T0 + timedelta(days=9), Verdict.WAITING,
                 id="zero-is-no-timeout"),
    pytest.param(signal_wait(), T0 + timedelta(days=9), Verdict.WAITING, id="no-timeout"),
    pytest.param(WaitingNode("n", "w", WaitSpec("SignalWait", signal="s", timeout_seconds=5),
                             None), T0 + timedelta(days=9), Verdict.WAITING,
                 id="not-started-no-deadline"),
])
def test_timeouts(wait: WaitingNode, now: datetime, verdict: Verdict) -> None:
    decision = decide_wait(wait, now)
    assert decision.verdict is verdict
    if verdict is Verdict.TIMED_OUT:
        assert says_wait_timed_out(decision.message)
        assert decision.message == WAIT_TIMED_OUT


def test_a_decision_found_wins_over_the_deadline() -> None:
    late = T0 + timedelta(hours=1)
    assert decide_wait(signal_wait(timeout=5), late, deliveries=[delivery()]).verdict \
        is Verdict.PASSED
    assert decide_wait(gate(timeout=5), late, policy("Approved")).verdict is Verdict.PASSED


def test_decision_messages_never_look_like_the_timeout() -> None:
    for name in (WAIT_TIMED_OUT, "x"):
        w = WaitingNode("n", "g", WaitSpec("ApprovalGate", policy=name), T0)
        for phase in ("denied", None):
            assert not says_wait_timed_out(decide_wait(w, T0, policy(phase)).message)


# -- the `wait` parameter -------------------------------------------------------------
TEXT = st.text(max_size=20)


@given(st.builds(WaitSpec, st.just("SignalWait"), st.none(), TEXT.filter(bool),
                 st.none() | TEXT, st.none() | st.integers(0, 2**31 - 1)))
def test_a_wait_survives_its_encoding(spec: WaitSpec) -> None:
    text = spec.encode()
    assert "{{" not in text  # Argo finds nothing to expand in it
    assert decode_wait(text) == spec


@pytest.mark.parametrize("text", [
    None, 3, "", "not json", "[]", '{"kind": "AgentRun"}', '{"kind": "ApprovalGate"}',
    '{"kind": "SignalWait"}', '{"kind": "SignalWait", "signal": 1}',
    '{"kind": "ApprovalGate", "policy": "p", "timeoutSeconds": "5"}',
    '{"kind": "ApprovalGate", "policy": "p", "timeoutSeconds": true}',
])
def test_what_is_not_a_wait(text: Any) -> None:
    assert decode_wait(text) is None


def test_waiting_nodes_are_active_suspend_nodes_with_a_wait() -> None:
    wait = WaitSpec("ApprovalGate", policy="p", timeout_seconds=9)

    def node(node_id: str, phase: str, kind: str = "Suspend", value: str | None = None
             ) -> dict[str, Any]:
        params = [{"name": "wait", "value": value or wait.encode()}]
        return {"id": node_id, "displayName": f"step-{node_id}", "type": kind, "phase": phase,
                "startedAt": "2026-01-01T00:00:00Z", "inputs": {"parameters": params}}

    nodes = {"b": node("b", "Running"), "a": node("a", "Running"),
             "c": node("c", "Succeeded"), "d": node("d", "Running", "Pod"),
             "e": node("e", "Running", value="{}")}
    found = waiting_nodes(nodes)
    assert [(w.node_id, w.step, w.spec) for w in found] == [("a", "step-a", wait),
                                                           ("b", "step-b", wait)]
    assert found[0].deadline == T0 + timedelta(seconds=9)
    assert wait_of_node({"inputs": {"parameters": [{"name": "step", "value": "x"}]}}) is None
