"""`controller.decide` for a Workflow with ApprovalGate / SignalWait steps: what it
asks for, what it releases and when it looks again (`controller.waits.plan_waits`
decides each wait). Workflows are the real compiler's; nodes are written as Argo
writes a suspend node (its resolved inputs copied in)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.argo_messages import WAIT_TIMED_OUT
from controller.decide import (
    DUE_MARGIN,
    Created,
    Fetch,
    Need,
    Observed,
    ReleaseWaits,
    WriteStatus,
    decide,
)
from controller.waits import Release, WaitFacts, plan_waits, workflow_waits
from orchapi.api import Obj
from tests.unit.controller.helpers import compiled, node, with_status
from tests.unit.controller.test_decide import SUBMITTED, owned, run, trust_of

STEPS: list[Obj] = [
    {"name": "gate", "kind": "ApprovalGate", "policyRef": "deploy", "timeoutSeconds": 60},
    {"name": "signal", "kind": "SignalWait", "signalRef": "ready", "deliveryId": "d-1",
     "dependsOn": []},
    {"name": "after", "kind": "Checkpoint", "dependsOn": ["gate", "signal"]}]
STARTED = datetime(2026, 1, 1, tzinfo=UTC)  # the nodes' startedAt (helpers.node)


def wait_node(wf: Obj, step: str, phase: str = "Running") -> Obj:
    task = next(t for t in wf["spec"]["templates"][0]["dag"]["tasks"] if t["name"] == step)
    out = node(step, phase, type_="Suspend")
    out["inputs"] = {"parameters": task["arguments"]["parameters"]}
    return out


def waiting(*, gate: str = "Running", signal: str = "Running", **spec: Any) -> Obj:
    wf = compiled(STEPS)
    return owned(with_status(wf, "Running", [wait_node(wf, "gate", gate),
                                             wait_node(wf, "signal", signal)], **spec))


def node_of(wf: Obj, step: str) -> str:
    return str(next(n["id"] for n in wf["status"]["nodes"].values()
                    if n.get("displayName") == step))


def policy(phase: str | None) -> Obj:
    return {"metadata": {"name": "deploy"}, **({"status": {"phase": phase}} if phase else {})}


def delivery(signal: str = "ready", delivery_id: str = "d-1") -> Obj:
    return {"metadata": {"name": "sd"},
            "spec": {"signalRef": {"name": signal}, "deliveryId": delivery_id}}


def facts(wf: Obj, p: Obj | None, deliveries: list[Obj] | None = None,
          live: frozenset[str] = frozenset()) -> WaitFacts:
    return WaitFacts({"deploy": p}, {node_of(wf, "signal"): tuple(deliveries or ())}, live)


def at(seconds: float) -> str:
    return (STARTED + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def observed(wf: Obj, waits: WaitFacts | None, now: str = at(10)) -> Observed:
    return Observed(run=run(SUBMITTED), now=now, workflow=wf, waits=waits,
                    trust=trust_of(run(SUBMITTED)))


def test_waits_are_read_before_anything_is_decided() -> None:
    assert decide(observed(waiting(), None)) == Fetch(Need.WAITS)


def test_nothing_decided_yet_mirrors_and_looks_again_at_the_timeout() -> None:
    wf = waiting()
    action = decide(observed(wf, facts(wf, policy("Pending"))))
    assert isinstance(action, WriteStatus)
    assert action.requeue is not None
    assert action.requeue.after == pytest.approx(50 + DUE_MARGIN)  # 60 s after startedAt
    steps = {s["name"]: (s["phase"], s["message"]) for s in action.status["stepStatuses"]}
    assert steps["gate"] == ("Running", "Waiting for approval of deploy")
    assert steps["signal"] == ("Running", "Waiting for signal ready")


def test_decided_waits_are_released_together() -> None:
    wf = waiting()
    action = decide(observed(wf, facts(wf, policy("DENIED"), [delivery()])))
    assert isinstance(action, ReleaseWaits) and action.workflow == wf
    assert sorted(action.releases, key=lambda r: r.step) == [
        Release(node_of(wf, "gate"), "gate", "Failed", "approval policy deploy is denied"),
        Release(node_of(wf, "signal"), "signal", "Succeeded",
                "signal ready delivered (SignalDelivery sd)")]
    assert [r.node_id for r in action.releases] == sorted(r.node_id for r in action.releases)


def test_a_missing_policy_is_confirmed_live_before_it_fails_the_gate() -> None:
    wf = waiting()
    assert decide(observed(wf, facts(wf, None))) == Fetch(Need.POLICIES)
    action = decide(observed(wf, facts(wf, None, live=frozenset({"deploy"}))))
    assert isinstance(action, ReleaseWaits)
    assert action.releases[0].message == "approval policy deploy not found"


def test_a_timeout_fails_the_wait_with_orchs_message() -> None:
    wf = waiting(signal="Succeeded")
    action = decide(observed(wf, facts(wf, policy(None)), now=at(60)))
    assert action == ReleaseWaits(wf, (Release(node_of(wf, "gate"), "gate", "Failed",
                                               WAIT_TIMED_OUT),))


@pytest.mark.parametrize("wf", [
    pytest.param(waiting(shutdown="Stop"), id="being-stopped"),
    pytest.param(owned(with_status(compiled(STEPS), "Failed", [])), id="ended"),
    pytest.param(waiting(gate="Succeeded", signal="Failed"), id="nothing-waits"),
])
def test_no_wait_is_decided_for(wf: Obj) -> None:
    assert workflow_waits(wf) == []
    action = decide(observed(wf, None))
    assert isinstance(action, WriteStatus) and action.requeue is None


def test_offloaded_nodes_are_not_decided() -> None:
    wf = waiting()
    wf["status"] = {"phase": "Running", "offloadNodeStatusVersion": "fnv:1"}
    assert workflow_waits(wf) == []


def test_a_wait_not_ours_is_left_alone() -> None:
    """A suspend node without our `wait` input (someone's own suspend template)."""
    wf = copy.deepcopy(waiting())
    for n in wf["status"]["nodes"].values():
        n.pop("inputs", None)
    assert workflow_waits(wf) == []


def test_two_gates_on_one_missing_policy_ask_once() -> None:
    wf = compiled([{"name": g, "kind": "ApprovalGate", "policyRef": "deploy"}
                   for g in ("g1", "g2")])
    wf = owned(with_status(wf, "Running", [wait_node(wf, "g1"), wait_node(wf, "g2")]))
    plan = plan_waits(workflow_waits(wf), WaitFacts({"deploy": None}, {}), STARTED)
    assert plan.unconfirmed == ("deploy",) and plan.releases == ()


def test_a_cancelled_runs_waits_are_never_decided() -> None:
    """A cancel whose stop the cache does not show yet (or a cancel past its plan):
    a due timeout, a denying policy and a delivery release nothing; the run is
    mirrored `Cancelled`, its waits `Failed`/`Cancelled` (contract §3)."""
    wf = waiting()
    cancelled = {**run(SUBMITTED), "spec": {**run(SUBMITTED)["spec"], "cancel": True}}
    decided = facts(wf, policy("denied"), [delivery()])
    for o in (Observed(run=cancelled, now=at(120), workflow=wf, waits=decided,
                       cancel_applied=True, trust=trust_of(cancelled)),
              Observed(run=cancelled, now=at(120), workflow=waiting(shutdown="Stop"),
                       waits=decided, created=Created(), trust=trust_of(cancelled))):
        action = decide(o)
        assert isinstance(action, WriteStatus) and action.requeue is None, action
        steps = {s["name"]: (s["phase"], s.get("reason")) for s in action.status["stepStatuses"]}
        assert steps == {"gate": ("Failed", "Cancelled"), "signal": ("Failed", "Cancelled"),
                         "after": ("Skipped", "Cancelled")}
        assert action.status["phase"] == "Cancelled"
