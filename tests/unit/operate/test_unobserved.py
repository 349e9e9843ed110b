"""A run nothing observes (issue 21): in a namespace no controller watches it stays
Pending for ever; `orch get` and `orch watch` say so once it has gone unobserved
for a while, and what to check. A fixed clock decides "a while"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from operate.live import frame, unobserved_line
from operate.render import UNOBSERVED_AFTER, Style, header, unobserved
from operate.view import build_view

CREATED = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
API = "orchestration.proompteng.ai/v1alpha1"
ORCH = {"apiVersion": API, "kind": "Orchestration",
        "metadata": {"name": "o", "namespace": "team-b", "generation": 1},
        "spec": {"steps": [{"name": "a", "kind": "Checkpoint"}]}}
HINT = ('nothing has observed this run in {age}: no orch controller seems to watch namespace '
        '"team-b". Check that one runs (kubectl get pods -A -l app.kubernetes.io/name=orch) '
        'and that its orchestrationController.namespaces include "team-b" (or "*")')


def run(status: dict[str, object] | None = None) -> dict[str, object]:
    return {"apiVersion": API, "kind": "OrchestrationRun",
            "metadata": {"name": "r1", "namespace": "team-b",
                         "creationTimestamp": "2026-01-01T12:00:00Z"},
            "spec": {"orchestrationRef": {"name": "o"}}, "status": status or {}}


@pytest.mark.parametrize(("status", "seconds", "says"), [
    pytest.param(None, UNOBSERVED_AFTER - 1, False, id="new-and-unobserved-is-normal"),
    pytest.param(None, UNOBSERVED_AFTER, True, id="unobserved-for-a-while"),
    pytest.param(None, 3 * 3600, True, id="unobserved-for-hours"),
    pytest.param({"observedGeneration": 1, "phase": "Pending"}, 3600, False,
                 id="observed-but-waiting"),
    pytest.param({"conditions": [{"type": "Submitted", "status": "False",
                                  "reason": "WorkflowNotOwned"}]}, 3600, False,
                 id="a-condition-says-why"),
])
def test_an_unobserved_run_is_said_to_be(status: dict[str, object] | None, seconds: float,
                                         says: bool) -> None:
    view = build_view(run(status), None, ORCH)
    now = CREATED + timedelta(seconds=seconds)
    found = unobserved(view, now)
    assert (found is not None) == says
    lines = header(view, now)
    assert any(line.startswith("Note:") and "nothing has observed" in line
               for line in lines) == says


def test_the_note_names_the_namespace_and_what_to_check() -> None:
    view = build_view(run(), None, ORCH)
    assert unobserved(view, CREATED + timedelta(minutes=3)) == HINT.format(age="3m")
    assert unobserved(view, CREATED + timedelta(seconds=2), after=0) == HINT.format(age="2s")


def test_watch_shows_the_note_on_a_terminal_and_once_in_a_log() -> None:
    view = build_view(run(), None, ORCH)
    later = CREATED + timedelta(minutes=2)
    assert frame(view, later, Style())[1] == f"Note: {HINT.format(age='2m')}"
    assert frame(view, CREATED, Style())[1] != f"Note: {HINT.format(age='0s')}"
    assert unobserved_line(view, later) == f"12:02:00  note: {HINT.format(age='2m')}"
    assert unobserved_line(view, CREATED) is None
