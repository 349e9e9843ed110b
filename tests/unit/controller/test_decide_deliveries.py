"""Duplicate deliveries are one execution (contract §5, issue 20.6): who holds a
delivery (`controller.deliveries`), what `decide` does with it, and, as a property,
that runs reconciled in any order, with lists that miss runs created in the same
instant, with restarts between, submit exactly one Workflow per delivery."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from controller.decide import (
    DELIVERY_RECHECK,
    Create,
    Fetch,
    Need,
    Requeue,
    WriteStatus,
    decide,
)
from controller.deliveries import Holder, delivery_holder, delivery_key
from orchapi.api import Obj
from tests.unit.controller.test_decide import READY, SEALER, cond, observed, run


def delivered(name: str, created: str, status: Obj | None = None, sealed: bool = True,
              delivery: str = "gh-1", **meta: Any) -> Obj:
    r = run(None, name=name, uid=f"uid-{name}", creationTimestamp=created, **meta)
    r["spec"] = {"orchestrationRef": {"name": "o"}, "deliveryId": delivery}
    if status:
        r["status"] = SEALER.seal(r, status) if sealed else status
    return r


def names(*runs: Obj) -> set[str]:
    return {r["metadata"]["name"] for r in runs}


T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"
DUP = {"phase": "Failed", "conditions": [{"type": "Submitted", "status": "False",
                                          "reason": "DuplicateDelivery"}]}
SUBMITTED = {"phase": "Running", "workflowRef": {"name": "x", "uid": "w"}}


def test_the_key_is_namespace_orchestration_and_delivery() -> None:
    assert delivery_key(delivered("a", T0)) == ("ns", "o", "gh-1")
    plain = delivered("a", T0)
    del plain["spec"]["deliveryId"]
    assert delivery_key(plain) is None


@pytest.mark.parametrize(("me", "others", "taken", "expected"), [
    pytest.param(delivered("a", T0), [delivered("b", T1)], set(), Holder(None),
                 id="the-oldest-takes-it"),
    pytest.param(delivered("b", T1), [delivered("a", T0)], set(), Holder("a"),
                 id="a-later-one-waits-for-the-oldest"),
    pytest.param(delivered("b", T0), [delivered("a", T0)], set(), Holder("a"),
                 id="same-second-by-name"),
    pytest.param(delivered("a", T0), [delivered("b", T1)], {"b"}, Holder("b", final=True),
                 id="one-that-holds-it-keeps-it-whatever-its-age"),
    pytest.param(delivered("b", T1), [delivered("a", T0, SUBMITTED)], set(),
                 Holder("a", final=True), id="submitted-by-its-sealed-status"),
    pytest.param(delivered("b", T1), [delivered("a", T0, {"phase": "Cancelled"})], set(),
                 Holder("a", final=True), id="ended-before-submission-holds-it"),
    pytest.param(delivered("b", T1), [delivered("a", T0, DUP)], set(), Holder(None),
                 id="a-duplicate-holds-nothing"),
    pytest.param(delivered("b", T1), [delivered("a", T0, deletionTimestamp=T1)], set(),
                 Holder(None), id="the-first-deleted-before-it-took-it"),
    pytest.param(delivered("b", T1), [delivered("a", T0, SUBMITTED, sealed=False)], set(),
                 Holder("a"), id="a-forged-submission-holds-nothing-but-age"),
])
def test_delivery_holder(me: Obj, others: list[Obj], taken: set[str], expected: Holder) -> None:
    trusted = {r["metadata"]["name"] for r in others if SEALER.is_sealed(r)}
    assert delivery_holder(me, [me, *others], taken, trusted) == expected


def test_decide_asks_who_holds_the_delivery_before_compiling() -> None:
    r = delivered("b", T1)
    assert decide(observed(r, **READY)) == Fetch(Need.DELIVERY)
    assert isinstance(decide(observed(r, **READY, delivery=Holder(None))), Create)


def test_a_duplicate_ends_naming_the_first_and_a_later_one_waits() -> None:
    r = delivered("b", T1)
    action = decide(observed(r, **READY, delivery=Holder("a", final=True)))
    assert isinstance(action, WriteStatus) and action.requeue is None
    assert action.status["phase"] == "Failed"
    assert cond(action.status, "Submitted") == ("False", "DuplicateDelivery")
    assert '"a"' in next(c["message"] for c in action.status["conditions"]
                         if c["type"] == "Submitted")
    waiting = decide(observed(r, **READY, delivery=Holder("a")))
    assert isinstance(waiting, WriteStatus)
    assert waiting.requeue == Requeue(DELIVERY_RECHECK)
    assert waiting.status["phase"] == "Pending"
    assert cond(waiting.status, "Submitted") == ("False", "DuplicateDelivery")


# -- the property: exactly one Workflow per delivery ------------------------------------
@settings(max_examples=300, deadline=None)
@given(hs.integers(2, 6), hs.data())
def test_runs_of_one_delivery_submit_exactly_one_workflow(n: int, data: hs.DataObject) -> None:
    """Workers take the runs' reconciles in any order, each under the delivery's lock;
    a list may miss runs created in the same instant (a run shows from its own first
    reconcile on); a run may be deleted before it is submitted. However it goes,
    one Workflow is created, and once every run is seen, every other run is a
    duplicate naming its holder."""
    ages = data.draw(hs.lists(hs.sampled_from([T0, T1, T2]), min_size=n, max_size=n))
    runs = {f"r{i}": delivered(f"r{i}", ages[i]) for i in range(n)}
    visible: set[str] = set()
    workflows: list[str] = []

    def reconcile(name: str) -> None:
        r = runs[name]
        visible.add(name)
        if r["status"] or name in workflows:
            return  # ended (a duplicate), or submitted: nothing left to decide
        listed = [runs[v] for v in sorted(visible) if v in runs]
        trusted = {x["metadata"]["name"] for x in listed if SEALER.is_sealed(x)}
        holder = delivery_holder(r, listed, set(workflows) & set(runs), trusted)
        if holder.name is None:
            workflows.append(name)
        elif holder.final:
            runs[name] = {**r, "status": SEALER.seal(r, DUP)}

    for _ in range(4 * n):
        name = data.draw(hs.sampled_from(sorted(runs)))
        if data.draw(hs.integers(0, 5)) == 0 and len(runs) > 1 and name not in workflows \
                and not runs[name]["status"]:
            del runs[name]  # deleted before it was submitted
            visible.discard(name)
        else:
            reconcile(name)
    for _ in range(2):  # then every run is seen, twice over (each waiting one rechecks)
        for name in sorted(runs):
            reconcile(name)
    assert len(workflows) == 1, workflows
    (holder,) = workflows
    assert holder in runs
    assert all(runs[x]["status"].get("phase") == "Failed" for x in runs if x != holder)
