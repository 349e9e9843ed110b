"""The index from ApprovalPolicies and SignalDeliveries to the runs they may
release (controller.waitindex)."""

from __future__ import annotations

from typing import Any

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
