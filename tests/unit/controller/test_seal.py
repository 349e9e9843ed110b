"""`controller.seal`: what a status seal covers and what it does not, the trust it
gives, and the key's Secret (`controller.sealkey`) as the apiserver returns it."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from controller.main import run_summary, sealed_settled
from controller.seal import SEAL, Sealer, Trust, sealed_part, untrusted_view
from controller.sealkey import SealKeyError, sealer_of
from orchapi.api import Obj

SEALER = Sealer(b"\x07" * 32)
STATUS: Obj = {
    "observedGeneration": 2, "orchestrationGeneration": 3, "phase": "Succeeded",
    "progress": "2/2", "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:01:00Z",
    "workflowRef": {"name": "r", "namespace": "ns", "uid": "wf-1"},
    "stepStatuses": [{"name": "a", "kind": "Container", "phase": "Succeeded", "reason": "",
                      "message": "ok", "attempt": 1, "resourceRef": {"name": "x"}}],
    "conditions": [{"type": "Succeeded", "status": "True", "reason": "AllStepsSucceeded",
                    "message": "2 steps", "lastTransitionTime": "2026-01-01T00:01:00Z"},
                   {"type": "Audited", "status": "True", "reason": "ByJangar", "message": ""}],
    "runId": "jangar-1", "updatedAt": "2026-01-01T00:01:01Z"}


def run(status: Obj, uid: str = "run-1", created: str = "2026-01-01T00:00:00Z") -> Obj:
    return {"metadata": {"name": "r", "namespace": "ns", "uid": uid, "generation": 2,
                         "creationTimestamp": created}, "status": status}


def sealed(status: Obj = STATUS, uid: str = "run-1") -> Obj:
    status = copy.deepcopy(status)
    r = run(status, uid)
    r["status"] = SEALER.seal(r, status)
    return r


def test_a_status_the_controller_wrote_verifies() -> None:
    assert SEALER.is_sealed(sealed())
    assert SEALER.trust(sealed()) == Trust(True, frozenset({"wf-1"}))


OWN_CHANGES = [
    ("phase", "Running"), ("observedGeneration", 3), ("finishedAt", None),
    ("workflowRef", {"name": "r", "namespace": "ns", "uid": "forged"}), ("progress", "0/2")]


@pytest.mark.parametrize(("key", "value"), OWN_CHANGES, ids=[k for k, _ in OWN_CHANGES])
def test_any_change_to_a_field_the_controller_owns_unseals(key: str, value: Any) -> None:
    r = sealed()
    if value is None:
        del r["status"][key]
    else:
        r["status"][key] = value
    assert not SEALER.is_sealed(r)
    assert SEALER.trust(r, ["wf-9"]) == Trust(False, frozenset({"wf-9"}))


def test_own_parts_of_steps_and_conditions_are_covered() -> None:
    step = sealed()
    step["status"]["stepStatuses"][0]["phase"] = "Failed"
    condition = sealed()
    condition["status"]["conditions"][0]["status"] = "False"
    added = sealed()
    added["status"]["conditions"].append({"type": "Submitted", "status": "True"})
    assert not any(SEALER.is_sealed(r) for r in (step, condition, added))


def test_what_other_writers_own_is_outside_the_seal() -> None:
    r = sealed()
    r["status"]["runId"] = "jangar-2"
    r["status"]["stepStatuses"][0]["resourceRef"] = {"name": "y"}
    r["status"]["conditions"][1]["status"] = "False"
    r["status"]["conditions"].append({"type": "Reviewed", "status": "True"})
    assert SEALER.is_sealed(r)


def test_a_seal_proves_nothing_for_another_run_or_under_another_key() -> None:
    other = run(copy.deepcopy(sealed()["status"]), uid="run-2")
    assert not SEALER.is_sealed(other)  # a seal copied onto another run
    assert not Sealer(b"\x08" * 32).is_sealed(sealed())
    stripped = sealed()
    del stripped["status"][SEAL]
    assert not SEALER.is_sealed(stripped)
    assert not SEALER.is_sealed(run({}))


@settings(max_examples=200, deadline=None)
@given(hs.dictionaries(hs.sampled_from(["phase", "progress", "startedAt", "runId", "x"]),
                       hs.text(max_size=8)),
       hs.sampled_from(["phase", "progress", "startedAt"]), hs.text(max_size=8))
def test_a_seal_verifies_exactly_when_the_own_fields_are_as_sealed(
        status: Obj, key: str, value: str) -> None:
    r = sealed(status)
    assert SEALER.is_sealed(r)
    r["status"][key] = value
    assert SEALER.is_sealed(r) == (status.get(key) == value)


def test_an_unsealed_status_keeps_only_what_others_wrote() -> None:
    view = untrusted_view({**STATUS, SEAL: "v1.forged"})
    assert view == {"runId": "jangar-1", "updatedAt": "2026-01-01T00:01:01Z",
                    "conditions": [STATUS["conditions"][1]],
                    "stepStatuses": [{"name": "a", "resourceRef": {"name": "x"}}]}
    assert sealed_part(view) == {"conditions": [], "stepStatuses": [{"name": "a"}]}


def test_runs_created_before_the_epoch_are_judged_as_before() -> None:
    sealer = Sealer(b"\x07" * 32, "2026-01-01T00:00:30Z")
    before = run(STATUS, created="2026-01-01T00:00:29Z")
    at = run(STATUS, created="2026-01-01T00:00:30Z")
    assert sealer.trust(before) == Trust(True, None)
    assert sealer.trust(before).created("anything")
    assert sealer.trust(at) == Trust(False, frozenset())
    assert not SEALER.predates(before)  # no epoch: every run must be sealed


def test_only_a_sealed_status_settles_a_run() -> None:
    settled = sealed_settled(SEALER)
    forged = run({"phase": "Succeeded", "observedGeneration": 2})  # issue 22.10's patch
    assert settled(sealed({**STATUS, "observedGeneration": 2}))
    assert not settled(forged)
    assert run_summary(forged, settled) == ("Succeeded", False)


def test_the_key_secret_as_the_apiserver_returns_it() -> None:
    key = base64.b64encode(b"\x05" * 32).decode()
    secret = {"metadata": {"name": "orch-seal", "namespace": "orch-system",
                           "creationTimestamp": "2026-01-01T00:00:00Z"}, "data": {"key": key}}
    sealer = sealer_of(secret)
    assert (sealer.key, sealer.epoch) == (b"\x05" * 32, "2026-01-01T00:00:00Z")
    for data in ({}, {"key": "not base64!"}, {"key": base64.b64encode(b"short").decode()}):
        with pytest.raises(SealKeyError):
            sealer_of({**secret, "data": data})
