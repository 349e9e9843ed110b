"""What `orch watch` prints, as pure functions: the frame redrawn in place on a
terminal, the one line per change written to a pipe or a CI log, and the final
view when the run ends.

Why these choices: a 200-step run does not fit on a screen, so the frame shows
the steps that need attention (running and failed) and one summary line that
counts every phase, the rest with `--all`; a log cannot be redrawn, so it gets a
line for each step or run that changed, padded to the longest step name. The
final view names each failed step and the steps that were skipped because of it
(transitively), since "what broke and what did it cost" is the question then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from operate.render import (
    GLYPHS,
    UNOBSERVED_AFTER,
    Column,
    Style,
    attempt_cell,
    created_cell,
    display_phase,
    fit,
    reason_cell,
    span,
    table,
    unobserved,
)
from operate.view import RunView, StepRow
from orchapi.api import WAIT_KINDS
from orchapi.vocabulary import RUN_DONE, RunPhase, StepPhase, StepReason

MAX_NAME_PAD = 40
_NEEDS_ATTENTION = (StepPhase.RUNNING, StepPhase.FAILED)


def summary(view: RunView) -> str:
    """`82 succeeded (26 reused), 7 running, 8 failed, 65 skipped, 38 pending`: every
    phase, with the reused and cancelled steps among them."""
    parts = []
    for phase, n in view.counts().items():
        part = f"{n} {phase.lower()}"
        extra = [f"{k} {word}" for word, reason in (("reused", StepReason.REUSED),
                                                   ("cancelled", StepReason.CANCELLED))
                 if (k := sum(s.phase == phase and s.reason == reason for s in view.steps))]
        parts.append(part + (f" ({', '.join(extra)})" if extra else ""))
    return ", ".join(parts)


def title(view: RunView, now: datetime, style: Style) -> str:
    glyph = GLYPHS.get(view.phase, "?")
    elapsed = span(view.started_at, view.finished_at, now)
    parts = [style.paint(f"{glyph} {view.phase}", view.phase), view.progress]
    if elapsed:
        parts.append(elapsed)
    head = f"{style.bold(view.name)}  " + "  ".join(parts)
    if view.cancel_requested and view.phase not in RUN_DONE:
        head += "  (cancel requested)"
    return head


def _columns() -> list[Column]:
    return [Column("STEP", flexible=True, minimum=16, last_cut=True), Column("PHASE"),
            Column("REASON", flexible=True, minimum=16, last_cut=True), Column("ATTEMPT"),
            Column("DURATION"), Column("MESSAGE", flexible=True, minimum=10)]


def _rows(steps: Sequence[StepRow], now: datetime) -> list[list[str]]:
    return [[f"{GLYPHS.get(display_phase(s), '?')} {s.name}",
             s.phase, reason_cell(s), attempt_cell(s, ""),
             span(s.started_at, s.finished_at, now), s.message] for s in steps]


def frame(view: RunView, now: datetime, style: Style, height: int | None = None,
          show_all: bool = False, after: float = UNOBSERVED_AFTER) -> list[str]:
    """The screen: title, the steps that need attention (failed, then running; every
    step with `show_all`), a summary line. At most `height` lines, none wider than
    the terminal (a wrapped line would break the redraw): what does not fit is
    counted instead of scrolling the frame off screen."""
    if show_all:
        steps = list(view.steps)
    else:
        steps = [s for s in view.steps if s.phase == StepPhase.FAILED] + [
            s for s in view.steps if s.phase == StepPhase.RUNNING]
    foot = summary(view)
    more = "  (--all shows every step)"
    if not show_all and (style.width is None or len(foot) + len(more) <= style.width):
        foot += more
    note = unobserved(view, now, after)
    head = [title(view, now, style), *([f"Note: {note}"] if note else [])]
    body: list[str] = []
    if steps:
        shown = steps
        room = height - len(head) - 2 if height is not None else None  # header, summary
        if room is not None and len(steps) > room:
            shown = steps[: max(1, room - 1)]  # and one line saying how many more
        body = table(_columns(), _rows(shown, now), style,
                     [display_phase(s) for s in shown], 1)
        if len(shown) < len(steps):
            body.append(f"… and {len(steps) - len(shown)} more")
    return [fit(line, style) for line in (*head, *body, foot)]


def unobserved_line(view: RunView, now: datetime, after: float = UNOBSERVED_AFTER
                    ) -> str | None:
    """For a log: the line saying nothing has observed the run (once it is so)."""
    hint = unobserved(view, now, after)
    return f"{now.strftime('%H:%M:%S')}  note: {hint}" if hint else None


def changes(old: RunView | None, new: RunView, now: datetime, style: Style) -> list[str]:
    """One line per step whose phase or reason changed (every step the first
    time a step is seen), then one for the run when its phase changed."""
    stamp = now.strftime("%H:%M:%S")
    pad = min(MAX_NAME_PAD, max([len(s.name) for s in new.steps] + [3]))
    before = old.by_name if old is not None else {}
    lines = []
    for step in new.steps:
        prev = before.get(step.name)
        if prev is not None and (prev.phase, prev.reason) == (step.phase, step.reason):
            continue
        if prev is None and old is not None and step.phase == StepPhase.PENDING:
            continue
        if old is None and step.phase == StepPhase.PENDING:
            continue  # the run's line counts them
        parts = [style.paint(step.phase.ljust(9), display_phase(step))]
        if step.reason:
            parts.append(reason_cell(step))
        if step.is_done and step.started_at is not None:
            parts.append(span(step.started_at, step.finished_at, now))
        # A failure says why; a waiting ApprovalGate or SignalWait on what (it has
        # no pod and no log: "Waiting for approval of deploy").
        if step.message and (step.phase == StepPhase.FAILED or (
                step.phase == StepPhase.RUNNING and step.kind in WAIT_KINDS)):
            parts.append(step.message)
        lines.append(f"{stamp}  {step.name.ljust(pad)}  " + "  ".join(parts))
    if old is None or (old.phase, old.progress) != (new.phase, new.progress):
        run = [style.paint(new.phase.ljust(9), new.phase), new.progress]
        if new.phase in RUN_DONE and (new.reason or new.message):
            run.append(": ".join(p for p in (new.reason, new.message) if p))
        lines.append(f"{stamp}  {'run'.ljust(pad)}  " + "  ".join(run))
    return lines


def final(view: RunView, now: datetime, style: Style) -> list[str]:
    """After the run ended: its outcome, each failed (or cancelled) step with what
    it created, and the steps skipped because of it."""
    took = span(view.started_at, view.finished_at, now)
    outcome = f"{view.name} {view.phase}" + (f" after {took}" if took else "")
    if view.reason or view.message:
        outcome += ": " + ": ".join(p for p in (view.reason, view.message) if p)
    lines = [style.paint(outcome, view.phase)]
    failed = [s for s in view.steps if s.phase == StepPhase.FAILED]
    if failed:
        columns = [Column("STEP", flexible=True, minimum=16, last_cut=True), Column("PHASE"),
                   Column("REASON", flexible=True, minimum=16, last_cut=True), Column("ATTEMPT"),
                   Column("CREATED", flexible=True, minimum=12),
                   Column("MESSAGE", flexible=True, minimum=10)]
        rows = [[f"{GLYPHS.get(display_phase(s), '?')} {s.name}", s.phase, reason_cell(s),
                 str(s.attempt) if s.attempt else "", created_cell(s), s.message]
                for s in failed]
        drawn = table(columns, rows, style, [display_phase(s) for s in failed], 1)
        caused = skipped_because(view)
        lines.append("  " + drawn[0])
        for step, line in zip(failed, drawn[1:], strict=True):
            lines.append("  " + line)
            victims = caused.get(step.name, [])
            if victims:
                lines.append(f"      skipped because of it: {_names(victims)}")
    never = [s.name for s in view.steps if s.phase == StepPhase.SKIPPED
             and s.reason != StepReason.DEPENDENCY_FAILED]
    if never:
        lines.append(f"  never started: {_names(never)}")
    reused = [s.name for s in view.steps if s.reason == StepReason.REUSED]
    if reused:
        lines.append(f"  reused from {view.resumed_from or 'the resumed run'}: "
                     f"{_names(reused)}")
    lines.append(summary(view))
    return lines


def skipped_because(view: RunView) -> dict[str, list[str]]:
    """Each failed step -> the steps skipped because of it, following `waited_on`
    through skipped steps to the failure at the root, in DAG order."""
    by_name = view.by_name
    out: dict[str, list[str]] = {}
    for step in view.steps:
        if step.reason != StepReason.DEPENDENCY_FAILED or step.waited_on is None:
            continue
        root, seen = step.waited_on, {step.name}
        while root in by_name and by_name[root].waited_on and root not in seen:
            seen.add(root)
            root = by_name[root].waited_on or root
        out.setdefault(root, []).append(step.name)
    return out


def _names(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    more = len(names) - limit
    return f"{shown} and {more} more ({len(names)})" if more > 0 else shown


def exit_code(phase: str) -> int | None:
    """`orch watch`'s exit code for a run that ended: 0 Succeeded, 1 Failed,
    3 Cancelled; None while it runs."""
    codes: dict[str, int] = {RunPhase.SUCCEEDED: 0, RunPhase.FAILED: 1, RunPhase.CANCELLED: 3}
    return codes.get(phase)
