"""`controller.mirror_split`: a split run's Workflows mirrored into one evaluation
(contract §8), the gates it releases and the Workflows it stops, on the real
compiler's split of a small run (limits shrunk: tests/unit/controller/split_helpers)
with Argo-shaped node statuses written by hand."""

from __future__ import annotations

from typing import Any

import pytest

from controller.mirror_split import Part, SplitMirror, mirror_split
from orchapi.api import Obj
from tests.unit.controller.split_helpers import split_run, with_nodes

NOW = "2026-01-01T00:02:00Z"
SPLIT = split_run()
WF1, WF2, WF3 = SPLIT.workflows
# WF1 holds a, b (part-1), f (part-2), g behind a gate on (a, f) (part-3);
# WF2 holds c behind a gate on b, h behind a gate on g, d behind a gate on c;
# WF3 holds e behind a gate on d.


def mirror(*workflows: Obj | None, gone: tuple[int, ...] = (), cancelled: bool = False,
           previous: Obj | None = None) -> SplitMirror:
    parts = [Part(w["metadata"]["name"] if w is not None else f"run-1-{i + 1}", w,
                  gone=i in gone) for i, w in enumerate(workflows)]
    return mirror_split(parts, previous or {}, NOW, cancelled=cancelled)


def table(m: SplitMirror) -> dict[str, tuple[str, str | None]]:
    return {s["name"]: (s["phase"], s.get("reason")) for s in m.mirror.step_statuses}


def released(m: SplitMirror) -> dict[str, list[tuple[str, str]]]:
    return {name: [(r.step, r.phase) for r in rs] for name, rs in m.releases}


def condition(m: SplitMirror, type_: str) -> tuple[str, str]:
    (c,) = [c for c in m.mirror.conditions if c.type == type_]
    return str(c.status), str(c.reason)


def test_the_layout_is_what_these_tests_assume() -> None:
    assert [w["metadata"]["name"] for w in SPLIT.workflows] == ["run-1-1", "run-1-2", "run-1-3"]


def test_a_gate_passes_once_every_source_let_its_dependents_run() -> None:
    m = mirror(with_nodes(WF1, {"a": "Succeeded", "b": "Running", "f": "Succeeded"}),
               with_nodes(WF2, {}), with_nodes(WF3, {}))
    assert released(m) == {"run-1-1": [("orch-gate-1", "Succeeded")]}
    assert table(m)["g"] == ("Pending", None) and m.mirror.phase == "Running"
    assert m.stop == ()


def test_a_gate_waits_while_a_source_runs() -> None:
    m = mirror(with_nodes(WF1, {"a": "Succeeded", "f": "Running"}), with_nodes(WF2, {}),
               with_nodes(WF3, {}))
    assert released(m) == {}


@pytest.mark.parametrize(("b", "gate", "c"), [
    ("Failed", "Failed", ("Skipped", "DependencyFailed")),
    ("Error", "Failed", ("Skipped", "DependencyFailed")),
    ("Succeeded", "Succeeded", ("Pending", None)),
])
def test_a_gate_in_another_workflow_follows_its_source(b: str, gate: str,
                                                        c: tuple[str, Any]) -> None:
    m = mirror(with_nodes(WF1, {"a": "Succeeded", "b": b, "f": "Running"}),
               with_nodes(WF2, {}), with_nodes(WF3, {}))
    assert ("orch-gate-1", gate) in released(m)["run-1-2"]
    assert table(m)["c"] == c
    if gate == "Failed":  # skipped transitively, across Workflows, before Argo says so
        assert table(m)["d"] == ("Skipped", "DependencyFailed")
        assert table(m)["e"] == ("Skipped", "DependencyFailed")


def test_an_ignored_failure_passes_the_gate() -> None:
    m = mirror(with_nodes(WF1, {"a": "Succeeded", "b": "Succeeded", "f": "Succeeded",
                                "g": "Failed"}),
               with_nodes(WF2, {"c": "Running"}), with_nodes(WF3, {}))
    assert ("orch-gate-1", "Succeeded") in released(m)["run-1-2"]  # h's, on g
    assert table(m)["g"] == ("Failed", "FailureIgnored")


def test_a_run_ends_once_every_workflow_has_and_argo_agrees() -> None:
    steps = {n: "Succeeded" for n in "abcdefgh"}
    ended: dict[str, Any] = dict(phase="Succeeded", finished="2026-01-01T00:01:00Z",
                 gates={("a", "f"): "Succeeded", ("b",): "Succeeded", ("g",): "Succeeded",
                        ("c",): "Succeeded", ("d",): "Succeeded"})
    m = mirror(*(with_nodes(w, steps, **ended) for w in SPLIT.workflows))
    assert m.mirror.phase == "Succeeded" and m.mirror.progress == "8/8"
    assert condition(m, "ArgoPhaseAgrees") == ("True", "SamePhase")
    assert set(table(m).values()) == {("Succeeded", None)}
    # One Workflow still running: the run is too.
    m = mirror(with_nodes(WF1, steps, **ended), with_nodes(WF2, steps, **ended),
               with_nodes(WF3, {}))
    assert m.mirror.phase == "Running"


def test_a_real_failure_fails_the_run_and_every_workflow_that_holds_it() -> None:
    end: dict[str, Any] = {"finished": "2026-01-01T00:01:00Z"}
    m = mirror(with_nodes(WF1, {"a": "Succeeded", "b": "Failed", "f": "Succeeded",
                                "g": "Succeeded"}, phase="Failed", **end),
               with_nodes(WF2, {"c": "Omitted", "d": "Omitted", "h": "Succeeded"},
                          phase="Failed", gates={("b",): "Failed", ("c",): "Omitted",
                                                 ("g",): "Succeeded"}, **end),
               with_nodes(WF3, {"e": "Omitted"}, phase="Failed",
                          gates={("d",): "Failed"}, **end))
    assert m.mirror.phase == "Failed"
    assert table(m)["b"] == ("Failed", "StepFailed")
    assert [table(m)[n] for n in "cde"] == [("Skipped", "DependencyFailed")] * 3
    assert condition(m, "ArgoPhaseAgrees") == ("True", "SamePhase")


def test_a_run_whose_steps_all_ended_runs_until_argo_ends_every_workflow() -> None:
    """b fails: c, d and e are skipped (behind gates in WF2 and WF3) before Argo
    says so, and every step has ended while those gates are still to be released.
    The run ends once every Workflow has (so that its end carries ArgoPhaseAgrees,
    which only Argo's end can say); the gates are released meanwhile. Before, it
    ended at once and, settled, was never told that the Workflows ended."""
    end: dict[str, Any] = {"finished": "2026-01-01T00:01:00Z"}
    m = mirror(with_nodes(WF1, {"a": "Succeeded", "b": "Failed", "f": "Succeeded",
                                "g": "Succeeded"}, phase="Failed", **end),
               with_nodes(WF2, {"h": "Succeeded"}), with_nodes(WF3, {}))
    assert set(table(m).values()) == {("Succeeded", None), ("Failed", "StepFailed"),
                                      ("Skipped", "DependencyFailed")}
    assert m.mirror.phase == "Running" and m.mirror.finished_at is None
    assert condition(m, "Succeeded") == ("Unknown", "Running")
    assert not [c for c in m.mirror.conditions if c.type == "ArgoPhaseAgrees"]
    assert ("orch-gate-1", "Failed") in released(m)["run-1-2"]


def test_one_workflow_ending_early_stops_the_others() -> None:
    m = mirror(with_nodes(WF1, {"a": "Succeeded", "b": "Running"}),
               with_nodes(WF2, {}, shutdown="Stop"), with_nodes(WF3, {}))
    assert m.stop == ("run-1-1", "run-1-3") and m.releases == ()
    # Stopped, all ended: steps that ran are WorkflowEnded, the rest never started.
    stopped: dict[str, Any] = {"phase": "Failed", "finished": "2026-01-01T00:01:00Z",
                               "shutdown": "Stop"}
    m = mirror(with_nodes(WF1, {"a": "Succeeded", "b": "Running"}, **stopped),
               with_nodes(WF2, {}, **stopped), with_nodes(WF3, {}, **stopped))
    assert m.mirror.phase == "Failed"
    assert table(m)["a"] == ("Succeeded", None)
    assert table(m)["b"] == ("Failed", "WorkflowEnded")
    assert table(m)["e"] == ("Skipped", "WorkflowEnded")


def test_a_workflow_that_ended_with_steps_it_never_ran_stops_the_others() -> None:
    """Argo ended it (an error) before its steps ran: gates elsewhere would wait on
    them forever."""
    m = mirror(with_nodes(WF1, {"a": "Succeeded"}), with_nodes(WF2, {}),
               with_nodes(WF3, {}, phase="Error", finished="2026-01-01T00:01:00Z"))
    assert m.stop == ("run-1-1", "run-1-2")


def test_a_workflow_gone_unseen_ends_the_run_with_its_steps_as_recorded() -> None:
    previous = {"stepStatuses": [{"name": "e", "kind": "Container", "phase": "Pending"}]}
    m = mirror(with_nodes(WF1, {"a": "Running"}), with_nodes(WF2, {}), None, gone=(2,),
               previous=previous)
    assert m.stop == ("run-1-1", "run-1-2")
    assert table(m)["e"] == ("Pending", None)  # until every Workflow has ended


def test_a_cancelled_run_releases_no_gate() -> None:
    m = mirror(with_nodes(WF1, {"a": "Succeeded", "b": "Succeeded", "f": "Succeeded"}),
               with_nodes(WF2, {}), with_nodes(WF3, {}), cancelled=True)
    assert m.releases == ()


def test_a_gate_is_released_only_for_its_own_workflow_node() -> None:
    """Two gates of one Workflow named alike (in two parts): each is told apart by
    its node, and each decided by its own sources."""
    m = mirror(with_nodes(WF1, {"a": "Succeeded", "b": "Succeeded", "f": "Running"}),
               with_nodes(WF2, {"c": "Running"}), with_nodes(WF3, {}))
    assert released(m) == {"run-1-2": [("orch-gate-1", "Succeeded")]}
    (gate,) = dict(m.releases)["run-1-2"]
    assert gate.node_id.endswith("part-4-orch-gate-1")  # c's, on b; not h's on g


def test_the_workflow_whose_gate_has_been_ready_longest_comes_first() -> None:
    """The executor writes a few Workflows a round: ordered by how long a gate has
    been ready, a Workflow never waits behind others that always have more."""
    wf1 = with_nodes(WF1, {"a": "Succeeded", "b": "Succeeded", "f": "Succeeded"})
    for node in wf1["status"]["nodes"].values():
        if node["displayName"] == "b":
            node["finishedAt"] = "2026-01-01T00:00:01Z"  # before a and f
    m = mirror(wf1, with_nodes(WF2, {}), with_nodes(WF3, {}))
    assert [name for name, _ in m.releases] == ["run-1-2", "run-1-1"]
