"""Durations as kubectl prints them, column fitting, colour only when asked, and
the `DependencyFailed ← step` cell."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from operate.render import (
    Column,
    Style,
    human_duration,
    reason_cell,
    run_list,
    table,
    tree,
    wide,
)
from operate.terminal import style_for
from operate.view import StepRow, build_view

S, M, H, D, Y = 1, 60, 3600, 86400, 365 * 86400
MS = 0.001


# k8s.io/apimachinery/pkg/util/duration/duration_test.go (v0.36.3), TestHumanDuration
@pytest.mark.parametrize("seconds,want", [
    (1 * S, "1s"), (70 * S, "70s"), (190 * S, "3m10s"), (70 * M, "70m"), (47 * H, "47h"),
    (49 * H, "2d1h"), ((8 * 24 + 2) * H, "8d"), (367 * 24 * H, "367d"),
    ((365 * 2 * 24 + 25) * H, "2y1d"), ((365 * 8 * 24 + 2) * H, "8y"),
    (-2 * S, "<invalid>"), (-2 * S + 1e-9, "0s"), (0, "0s"), (S - MS, "0s"),
    (2 * M - MS, "119s"), (2 * M, "2m"), (2 * M + S, "2m1s"), (10 * M - MS, "9m59s"),
    (10 * M, "10m"), (10 * M + S, "10m"), (3 * H - MS, "179m"), (3 * H, "3h"),
    (3 * H + M, "3h1m"), (8 * H - MS, "7h59m"), (8 * H, "8h"), (8 * H + 59 * M, "8h"),
    (2 * D - MS, "47h"), (2 * D, "2d"), (2 * D + H, "2d1h"), (8 * D - MS, "7d23h"),
    (8 * D, "8d"), (8 * D + 23 * H, "8d"), (2 * Y - MS, "729d"), (2 * Y, "2y"),
    (2 * Y + 23 * H, "2y"), (2 * Y + D - MS, "2y"), (2 * Y + D, "2y1d"), (3 * Y, "3y"),
    (7 * Y, "7y"), (8 * Y - MS, "7y364d"), (8 * Y, "8y"), (8 * Y + 364 * D, "8y"),
    (9 * Y, "9y"),
])
def test_human_duration_as_kubectl(seconds: float, want: str) -> None:
    assert human_duration(seconds) == want


def test_reason_cell_names_the_dependency_waited_on() -> None:
    row = StepRow("test", "Container", "Skipped", "DependencyFailed", "", waited_on="build")
    assert reason_cell(row) == "DependencyFailed ← build"
    assert reason_cell(StepRow("b", "Container", "Failed", "StepFailed", "")) == "StepFailed"
    assert reason_cell(StepRow("c", "Container", "Succeeded", None, "")) == ""


COLUMNS = [Column("NAME", flexible=True, minimum=6, last_cut=True), Column("PHASE"),
           Column("NOTE", flexible=True, minimum=6)]
ROWS = [["a-rather-long-step-name", "Succeeded", "x" * 40], ["b", "Failed", "short"]]


def test_a_table_without_a_width_cuts_nothing() -> None:
    lines = table(COLUMNS, ROWS, Style())
    assert lines[1] == "a-rather-long-step-name  Succeeded  " + "x" * 40
    assert lines[0].split() == ["NAME", "PHASE", "NOTE"]


def test_a_table_fits_the_width_cutting_the_columns_that_give_way_first() -> None:
    lines = table(COLUMNS, ROWS, Style(width=50))
    assert all(len(line) <= 50 for line in lines), lines
    assert lines[1].startswith("a-rather-long-step-name  Succeeded  xxx")
    assert lines[1].endswith("…")  # NOTE was cut, the name kept whole
    narrow = table(COLUMNS, ROWS, Style(width=30))
    assert all(len(line) <= 30 for line in narrow), narrow
    assert "…" in narrow[1].split()[0]  # then the name too, down to its minimum


def test_colour_codes_never_change_the_alignment() -> None:
    plain = table(COLUMNS, ROWS, Style(), ["Succeeded", "Failed"], 1)
    coloured = table(COLUMNS, ROWS, Style(colour=True), ["Succeeded", "Failed"], 1)
    assert "\x1b[32mSucceeded\x1b[0m" in coloured[1]
    assert "\x1b[31mFailed   \x1b[0m" in coloured[2]
    strip = [line.replace("\x1b[32m", "").replace("\x1b[31m", "").replace("\x1b[0m", "")
             for line in coloured]
    assert strip == plain


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("env,colour", [
    ({}, True), ({"NO_COLOR": "1"}, False), ({"NO_COLOR": ""}, True),
    ({"TERM": "dumb"}, False)], ids=["tty", "no-color", "empty-no-color", "dumb"])
def test_colour_only_on_a_terminal_and_never_with_no_color(env: dict[str, str],
                                                             colour: bool) -> None:
    assert style_for(_Tty(), env).colour is colour
    piped = style_for(io.StringIO(), env)
    assert (piped.colour, piped.width) == (False, None)


NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _run(phase: str = "Running", **status: object) -> dict[str, object]:
    return {"metadata": {"name": "r1", "namespace": "ns",
                         "creationTimestamp": "2026-01-02T03:00:00Z"},
            "spec": {"orchestrationRef": {"name": "o"}},
            "status": {"phase": phase, "progress": "1/2", "startedAt": "2026-01-02T03:00:01Z",
                       **status}}


def test_tree_shows_the_run_and_its_steps_with_running_durations() -> None:
    run = _run(stepStatuses=[
        {"name": "a", "kind": "Container", "phase": "Succeeded", "attempt": 1,
         "startedAt": "2026-01-02T03:00:01Z", "finishedAt": "2026-01-02T03:00:31Z"},
        {"name": "b", "kind": "Container", "phase": "Running", "attempt": 2,
         "startedAt": "2026-01-02T03:03:05Z"}])
    text = tree(build_view(run), NOW, Style())
    body = text.split("\n\n")[1].splitlines()
    assert body[1].split() == ["●", "r1", "Running", "4m4s"]
    assert body[2].split() == ["├─✔", "a", "Succeeded", "1", "30s"]
    assert body[3].split() == ["└─●", "b", "Running", "2", "60s"]
    assert "Created:       2026-01-02T03:00:00Z (4m5s ago)" in text


def test_tree_and_wide_show_pod_restarts_beside_the_attempt() -> None:
    """Argo v4's failedPodRestarts: neither a failure nor an attempt (contract §5)."""
    run = _run(stepStatuses=[
        {"name": "a", "kind": "Container", "phase": "Running", "attempt": 1,
         "failedPodRestarts": 2, "startedAt": "2026-01-02T03:03:05Z"},
        {"name": "b", "kind": "Container", "phase": "Pending", "failedPodRestarts": 1}])
    body = tree(build_view(run), NOW, Style()).split("\n\n")[1].splitlines()
    assert body[2].split()[:6] == ["├─●", "a", "Running", "1", "(2", "pod"]
    assert "(1 pod restart)" in body[3] and "restarts" not in body[3]
    assert "1 (2 pod restarts)" in wide(build_view(run), NOW, Style())


def test_list_is_sorted_and_shows_age_like_kubectl() -> None:
    runs = [_run("Succeeded"), {**_run("Failed"), "metadata": {
        "name": "a0", "namespace": "ns", "creationTimestamp": "2026-01-01T03:04:05Z"}}]
    lines = run_list(runs, NOW, Style()).splitlines()
    assert [line.split() for line in lines] == [
        ["NAME", "ORCHESTRATION", "PHASE", "PROGRESS", "AGE"],
        ["a0", "o", "Failed", "1/2", "24h"], ["r1", "o", "Succeeded", "1/2", "4m5s"]]
