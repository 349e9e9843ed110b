"""`orch watch`'s text: one line per change on a pipe, a frame that fits the
terminal, the final view naming each failure and what it skipped, exit codes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from operate.live import changes, exit_code, final, frame, skipped_because, summary
from operate.render import Style
from operate.view import RunView, StepRow

NOW = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
T = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def step(name: str, phase: str = "Pending", reason: str | None = None,
         waited_on: str | None = None, message: str = "") -> StepRow:
    started = T if phase in ("Running", "Succeeded", "Failed") else None
    finished = NOW if phase in ("Succeeded", "Failed") else None
    return StepRow(name, "Container", phase, reason, message, waited_on, 1 if started else None,
                   started, finished)


def run(phase: str, *steps: StepRow, **extra: object) -> RunView:
    done = sum(s.is_done for s in steps)
    return RunView("r1", "ns", "o", phase, f"{done}/{len(steps)}", tuple(steps),
                   started_at=T, **extra)  # type: ignore[arg-type]


def test_a_pipe_gets_one_line_per_change_and_one_for_the_run() -> None:
    before = run("Running", step("build", "Running"), step("test"), step("docs"))
    after = run("Failed", step("build", "Failed", "StepFailed", message="exit code 1"),
                step("test", "Skipped", "DependencyFailed", "build"),
                step("docs", "Skipped", "DependencyFailed", "build"),
                reason="StepsFailed", message="1 step failed")
    assert changes(None, before, NOW, Style()) == [
        "12:00:30  build  Running  ", "12:00:30  run    Running    0/3"]
    assert changes(before, after, NOW, Style()) == [
        "12:00:30  build  Failed     StepFailed  30s  exit code 1",
        "12:00:30  test   Skipped    DependencyFailed ← build",
        "12:00:30  docs   Skipped    DependencyFailed ← build",
        "12:00:30  run    Failed     3/3  StepsFailed: 1 step failed"]
    assert changes(after, after, NOW, Style()) == []


def test_the_frame_shows_running_and_failed_steps_and_counts_the_rest() -> None:
    steps = [step(f"s{i}", "Succeeded") for i in range(150)] + [
        step(f"r{i}", "Running") for i in range(30)] + [step("f", "Failed", "StepFailed")] + [
        step(f"p{i}") for i in range(19)]
    view = run("Running", *steps)
    lines = frame(view, NOW, Style(width=80), height=20)
    assert len(lines) <= 20 and all(len(line) <= 80 for line in lines)
    assert lines[0].startswith("r1  ● Running  151/200  30s")
    assert lines[2].split()[:2] == ["✖", "f"]  # failed steps first
    assert lines[-2] == "… and 15 more"  # 31 steps need attention; 16 fit
    assert lines[-1] == "150 succeeded, 30 running, 1 failed, 0 skipped, 19 pending"
    assert len(lines) == 20
    every = frame(view, NOW, Style(), show_all=True)
    assert len(every) == 1 + 1 + 200 + 1  # title, header, every step, summary


def test_the_final_view_names_each_failure_and_what_it_skipped_transitively() -> None:
    view = run("Failed", step("a", "Succeeded"),
               step("build", "Failed", "StepFailed", message="exit code 2"),
               step("test", "Skipped", "DependencyFailed", "build"),
               step("deploy", "Skipped", "DependencyFailed", "test"),
               step("lint", "Failed", "FailureIgnored"),
               reason="StepsFailed", message="1 step failed; 2 skipped")
    assert skipped_because(view) == {"build": ["test", "deploy"]}
    lines = final(view, NOW, Style())
    assert lines[0] == "r1 Failed after 30s: StepsFailed: 1 step failed; 2 skipped"
    assert lines[2].split()[:4] == ["✖", "build", "Failed", "StepFailed"]
    assert lines[3] == "      skipped because of it: test, deploy"
    assert lines[-1] == "1 succeeded, 0 running, 2 failed, 2 skipped, 0 pending"


def test_summary_counts_reused_and_cancelled_steps_within_their_phases() -> None:
    view = run("Cancelled", step("a", "Succeeded", "Reused"), step("b", "Failed", "Cancelled"),
               step("c", "Skipped", "Cancelled"), step("d", "Succeeded"))
    assert summary(view) == ("2 succeeded (1 reused), 0 running, 1 failed (1 cancelled), "
                             "1 skipped (1 cancelled), 0 pending")


@pytest.mark.parametrize("phase,code", [("Succeeded", 0), ("Failed", 1), ("Cancelled", 3),
                                        ("Running", None), ("Pending", None)])
def test_watch_exit_codes(phase: str, code: int | None) -> None:
    assert exit_code(phase) == code


def test_a_pipe_says_what_a_waiting_step_waits_for_and_that_its_cancel_ended_it() -> None:
    """An ApprovalGate or SignalWait runs as a suspend node: no pod, no log, so its
    message is the only sign of what the run waits on (and what a cancel stopped)."""
    gate = replace(step("gate", "Running", message="Waiting for approval of deploy"),
                   kind="ApprovalGate")
    waiting = run("Running", gate, step("after"))
    cancelled = run("Cancelled",
                    step("gate", "Failed", "Cancelled",
                         message="the run was cancelled while the step ran"),
                    step("after", "Skipped", "Cancelled"), reason="Cancelled")
    assert changes(None, waiting, NOW, Style())[0] == (
        "12:00:30  gate   Running    Waiting for approval of deploy")
    assert changes(waiting, cancelled, NOW, Style())[0] == (
        "12:00:30  gate   Failed     Cancelled  30s  the run was cancelled while the step ran")
