"""The index from ApprovalPolicies and SignalDeliveries to the runs they may
release (controller.waitindex)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from compiler.kinds.wait import WaitSpec
from controller.waitindex import (
    DELIVERY,
    POLICY,
    SIGNAL,
    WaitIndex,
    delivery_targets,
    delivery_view,
    wait_targets,
)
from controller.waits import WaitFacts, WaitingNode, delivery_matches, plan_waits


def delivery(name: str, signal: str, delivery_id: str | None = None, ns: str = "ns"
             ) -> dict[str, Any]:
    spec: dict[str, Any] = {"signalRef": {"name": signal}, "payload": {"big": "x" * 100}}
    if delivery_id is not None:
        spec["deliveryId"] = delivery_id
    return {"metadata": {"name": name, "namespace": ns, "uid": f"u-{name}",
                         "managedFields": [{}]}, "spec": spec}


def test_targets() -> None:
    assert wait_targets(WaitSpec("ApprovalGate", policy="p")) == [(POLICY, "p")]
    assert wait_targets(WaitSpec("SignalWait", signal="s", delivery_id="d")) == [(SIGNAL, "s")]
    assert wait_targets(WaitSpec("SignalWait", delivery_id="d")) == [(DELIVERY, "d")]
    assert delivery_targets(delivery("x", "s", "d")) == [(SIGNAL, "s"), (DELIVERY, "d")]
    assert delivery_targets({"spec": {"signalRef": "not-a-ref"}}) == []


def test_runs_are_found_by_what_they_wait_on_and_forgotten() -> None:
    index = WaitIndex()
    index.set_workflow("ns", "wf-1", "run-1", [(POLICY, "p"), (SIGNAL, "s")])
    index.set_workflow("ns", "wf-2", "run-2", [(SIGNAL, "s")])
    index.set_workflow("other", "wf-3", "run-3", [(SIGNAL, "s")])
    assert index.waiting_runs("ns", [(SIGNAL, "s")]) == {"run-1", "run-2"}
    assert index.waiting_runs("ns", [(POLICY, "p"), (DELIVERY, "d")]) == {"run-1"}
    index.set_workflow("ns", "wf-1", "run-1", [(POLICY, "p")])  # the signal arrived
    assert index.waiting_runs("ns", [(SIGNAL, "s")]) == {"run-2"}
    index.set_workflow("ns", "wf-2", "run-2", [])  # it waits no more
    index.set_workflow("ns", "wf-1", None, [(POLICY, "p")])  # deleted
    assert index.waiting_runs("ns", [(SIGNAL, "s"), (POLICY, "p")]) == set()
    assert index.waiting_count() == 1  # wf-3, in the other namespace


def test_deliveries_are_kept_small_and_found_by_target() -> None:
    index = WaitIndex()
    for d in (delivery("a", "s", "d1"), delivery("b", "s"), delivery("c", "t", "d1"),
              delivery("z", "s", "d1", ns="other")):
        index.put_delivery(d)
    by_signal = index.deliveries_for("ns", WaitSpec("SignalWait", signal="s", delivery_id="d1"))
    assert [d["metadata"]["name"] for d in by_signal] == ["a", "b"]  # candidates by signal
    assert by_signal[0] == delivery_view(delivery("a", "s", "d1"))
    assert "payload" not in by_signal[0]["spec"] and "managedFields" not in by_signal[0][
        "metadata"]
    by_id = index.deliveries_for("ns", WaitSpec("SignalWait", delivery_id="d1"))
    assert [d["metadata"]["name"] for d in by_id] == ["a", "c"]
    index.put_delivery(delivery("a", "u", "d2"))  # changed: old targets dropped
    assert [d["metadata"]["name"] for d in index.deliveries_for(
        "ns", WaitSpec("SignalWait", delivery_id="d1"))] == ["c"]
    index.remove_delivery(delivery("c", "t", "d1"))
    assert index.deliveries_for("ns", WaitSpec("SignalWait", delivery_id="d1")) == []


# Names as the CRDs allow them: a step's signalRef is a Signal's name (a DNS
# subdomain: dots), a delivery's signalRef.name and any deliveryId free text
# (uppercase, spaces, `{{`, non-ASCII).
NAMES = st.sampled_from(["ready", "Ready", "READY", "re.ady", "ready.", "ready ", "réady",
                         "{{ready}}", "r"]) | st.text(max_size=6)


@given(signal=st.none() | NAMES, delivery_id=st.none() | NAMES,
       sent=st.lists(st.tuples(NAMES, st.none() | NAMES), max_size=4))
def test_a_delivery_releases_a_wait_iff_each_given_field_is_equal_exactly(
        signal: str | None, delivery_id: str | None, sent: list[tuple[str, str | None]]) -> None:
    """Through the index (the candidates a wait reads) and the decision: no match
    is missed by the index, none is made by case folding or by a near name."""
    assume(signal is not None or delivery_id is not None)
    spec = WaitSpec("SignalWait", signal=signal, delivery_id=delivery_id)
    index = WaitIndex()
    for i, (s, d) in enumerate(sent):
        index.put_delivery(delivery(f"d{i}", s, d))
    found = {d["metadata"]["name"] for d in index.deliveries_for("ns", spec)
             if delivery_matches(spec, d)}
    assert found == {f"d{i}" for i, (s, d) in enumerate(sent)
                     if (signal is None or s == signal)
                     and (delivery_id is None or d == delivery_id)}
    # and the delivery's event wakes a run waiting on it
    index.set_workflow("ns", "wf", "run", wait_targets(spec))
    for i, (s, d) in enumerate(sent):
        if f"d{i}" in found:
            assert index.waiting_runs("ns", delivery_targets(delivery(f"d{i}", s, d))) == {"run"}


def test_one_delivery_releases_every_wait_on_its_signal() -> None:
    """Two waits of one Workflow on one signal (one also naming the deliveryId), as
    the reference would: a delivery that exists releases each wait it matches.
    (Two runs on one signal: `test_runs_are_found_by_what_they_wait_on_...`.)"""
    waits = [WaitingNode("n1", "first", WaitSpec("SignalWait", signal="s"), None),
             WaitingNode("n2", "second", WaitSpec("SignalWait", signal="s", delivery_id="d"),
                         None),
             WaitingNode("n3", "third", WaitSpec("SignalWait", signal="s", delivery_id="e"),
                         None)]
    index = WaitIndex()
    index.put_delivery(delivery("one", "s", "d"))
    facts = WaitFacts({}, {w.node_id: index.deliveries_for("ns", w.spec) for w in waits})
    plan = plan_waits(waits, facts, datetime(2026, 1, 1, tzinfo=UTC))
    assert [(r.step, r.phase) for r in plan.releases] == [("first", "Succeeded"),
                                                         ("second", "Succeeded")]
