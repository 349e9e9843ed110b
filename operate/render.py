"""Text for `orch get`, `orch list` and `orch watch`, as pure functions of a view,
the time and a `Style` (terminal width, colour): golden files pin them down.

Layout follows kubectl and `argo get`: upper-case column headers, two spaces
between columns, durations as kubectl prints ages (`HumanDuration`), a tree with
the run as root and its steps, in DAG order, as children. Columns are measured
on plain text and coloured afterwards, so colour never shifts the alignment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from operate.view import RunView, StepRow
from orchapi.api import parse_time
from orchapi.vocabulary import RUN_DONE, RunPhase, StepPhase, StepReason

_DASH = ""
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ANSI_SPLIT = re.compile(r"(\x1b\[[0-9;?]*[A-Za-z])")
ELLIPSIS = "…"
GAP = "  "
GLYPHS: dict[str, str] = {
    StepPhase.SUCCEEDED: "✔", StepPhase.FAILED: "✖", StepPhase.RUNNING: "●",
    StepPhase.PENDING: "◷", StepPhase.SKIPPED: "○", RunPhase.CANCELLED: "⊘",
}
_COLOURS: dict[str, str] = {  # ANSI SGR
    StepPhase.SUCCEEDED: "32", StepPhase.FAILED: "31", StepPhase.RUNNING: "33",
    StepPhase.PENDING: "36", StepPhase.SKIPPED: "90", RunPhase.CANCELLED: "35",
}


@dataclass(frozen=True)
class Style:
    """How to draw: `width` None means unlimited (not a terminal)."""

    width: int | None = None
    colour: bool = False

    def paint(self, text: str, phase: str) -> str:
        code = _COLOURS.get(phase)
        if not self.colour or code is None or not text:
            return text
        return f"\x1b[{code}m{text}\x1b[0m"

    def bold(self, text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if self.colour and text else text


# -- durations ---------------------------------------------------------------------
def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration (v0.36.3), as `kubectl
    get` prints ages: about two significant figures."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def span(start: datetime | None, end: datetime | None, now: datetime) -> str:
    """How long something took, or has been running."""
    if start is None:
        return _DASH
    return human_duration(((end or now) - start).total_seconds())


# -- cells -------------------------------------------------------------------------
def reason_cell(step: StepRow) -> str:
    """`DependencyFailed ← build` names the dependency the step waited on."""
    if step.reason is None:
        return _DASH
    return f"{step.reason} ← {step.waited_on}" if step.waited_on else step.reason


def created_cell(step: StepRow) -> str:
    """The object the step made that matters most: what a resource step created,
    else its (last) pod; `(+N)` counts the others (retried attempts' pods)."""
    if not step.created:
        return _DASH
    objects = [c for c in step.created if not c.startswith("pod/")]
    main = objects[-1] if objects else step.created[-1]
    more = len(step.created) - 1
    return f"{main} (+{more})" if more else main


def display_phase(step: StepRow) -> str:
    """The phase a step is drawn with: a cancelled step has a colour of its own."""
    return RunPhase.CANCELLED if step.reason == StepReason.CANCELLED else step.phase


# -- tables ------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    header: str
    flexible: bool = False  # may be cut to fit the width
    minimum: int = 8
    last_cut: bool = False  # cut only when the other flexible columns are at their minimum


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]], style: Style,
          phases: Sequence[str | None] | None = None, phase_column: int = -1) -> list[str]:
    """Left-aligned columns; when `style.width` is too small, flexible columns are
    cut (with `…`), always the widest of them, down to their minimum; those marked
    `last_cut` (the step's name, its reason) only after the others."""
    header = [c.header for c in columns]
    widths = [max([len(header[i]), *(len(r[i]) for r in rows)]) for i in range(len(columns))]
    if style.width is not None:
        over = sum(widths) + len(GAP) * (len(columns) - 1) - style.width
        while over > 0:  # one character at a time from the widest: a fair share each
            room = [i for i, c in enumerate(columns) if c.flexible and widths[i] > c.minimum]
            cut = [i for i in room if not columns[i].last_cut] or room
            if not cut:
                break
            widths[max(cut, key=lambda j: widths[j])] -= 1
            over -= 1
    lines = [_line(header, widths, style)]
    for n, row in enumerate(rows):
        cells = [_fit(cell, w).ljust(w) for cell, w in zip(row, widths, strict=True)]
        phase = phases[n] if phases is not None else None
        if phase is not None and phase_column >= 0:
            cells[phase_column] = style.paint(cells[phase_column], phase)
        lines.append(_line(cells, widths, style))
    return lines


def _fit(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[: max(0, width - 1)] + ELLIPSIS


def _line(cells: Sequence[str], widths: Sequence[int], style: Style) -> str:
    out = GAP.join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()
    if style.width is not None and _visible_len(out) > style.width:
        out = _cut_visible(out, style.width)
    return out


def fit(line: str, style: Style) -> str:
    """`line` cut to the terminal's width (colour codes kept whole)."""
    if style.width is not None and _visible_len(line) > style.width:
        return _cut_visible(line, style.width)
    return line


def _visible_len(text: str) -> int:
    return len(_strip_ansi(text))


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _cut_visible(text: str, width: int) -> str:
    """Cut to `width` visible characters, keeping colour codes whole."""
    out, seen = [], 0
    for token in _ANSI_SPLIT.split(text):
        if token.startswith("\x1b["):
            out.append(token)
            continue
        room = width - seen
        if len(token) > room:
            out.append(token[: max(0, room - 1)] + ELLIPSIS)
            out.append("\x1b[0m" if "\x1b[" in text else "")
            break
        out.append(token)
        seen += len(token)
    return "".join(out)


# -- orch get ----------------------------------------------------------------------
# How long a run may go without any controller writing its status before `orch
# get` and `orch watch` say so (a controller observes a run within a second).
UNOBSERVED_AFTER = 20.0  # s; ORCH_UNOBSERVED_AFTER overrides it (operate.commands)


def unobserved(view: RunView, now: datetime, after: float = UNOBSERVED_AFTER) -> str | None:
    """What to check when nothing has observed the run `after` seconds after its
    creation (no observedGeneration, no condition): it stays Pending for ever when
    no controller watches its namespace (issue 21). None otherwise."""
    if view.observed or view.created_at is None:
        return None
    age = (now - view.created_at).total_seconds()
    if age < after:
        return None
    ns = view.namespace
    return (f"nothing has observed this run in {human_duration(age)}: no orch controller "
            f'seems to watch namespace "{ns}". Check that one runs (kubectl get pods -A -l '
            "app.kubernetes.io/name=orch) and that its orchestrationController.namespaces "
            f'include "{ns}" (or "*")')


def header(view: RunView, now: datetime, after: float = UNOBSERVED_AFTER) -> list[str]:
    """`kubectl describe`-like lines about the run itself."""
    pairs = [("Name", view.name), ("Namespace", view.namespace)]
    orch = view.orchestration
    if view.generation is not None:
        orch += f" (generation {view.generation})"
    pairs.append(("Orchestration", orch))
    if view.resumed_from:
        pairs.append(("Resumed from", view.resumed_from))
    if view.workflow:
        pairs.append(("Workflow", view.workflow))
    phase = view.phase + (" (cancel requested)" if view.cancel_requested
                          and view.phase != RunPhase.CANCELLED else "")
    pairs += [("Phase", phase), ("Progress", view.progress)]
    if view.reason or view.message:
        pairs.append(("Message", ": ".join(p for p in (view.reason, view.message) if p)))
    if view.created_at is not None:
        pairs.append(("Created", f"{_stamp(view.created_at)} "
                                 f"({human_duration((now - view.created_at).total_seconds())}"
                                 " ago)"))
    if view.started_at is not None:
        pairs.append(("Started", _stamp(view.started_at)))
    if view.finished_at is not None:
        pairs.append(("Finished", _stamp(view.finished_at)))
    if view.started_at is not None:
        pairs.append(("Duration", span(view.started_at, view.finished_at, now)))
    pairs += [("Note", note) for note in view.notes]
    hint = unobserved(view, now, after)
    if hint is not None:
        pairs.append(("Note", hint))
    width = max(len(k) for k, _ in pairs) + 2
    return [f"{k + ':':<{width}}{v}" for k, v in pairs]


def tree(view: RunView, now: datetime, style: Style, after: float = UNOBSERVED_AFTER) -> str:
    """`orch get RUN`: the header, then the run and its steps as a tree."""
    columns = [Column("STEP", flexible=True, minimum=16, last_cut=True), Column("PHASE"),
               Column("REASON", flexible=True, minimum=16, last_cut=True), Column("ATTEMPT"),
               Column("DURATION"), Column("CREATED", flexible=True, minimum=12)]
    run_glyph = GLYPHS.get(view.phase, "?")
    ended = view.phase in RUN_DONE
    rows = [[f"{run_glyph} {view.name}", view.phase, (view.reason or _DASH) if ended else _DASH,
             _DASH,
             span(view.started_at, view.finished_at, now), _DASH]]
    phases: list[str | None] = [view.phase]
    for i, step in enumerate(view.steps):
        branch = "└─" if i == len(view.steps) - 1 else "├─"
        glyph = GLYPHS.get(display_phase(step), "?")
        rows.append([f"{branch}{glyph} {step.name}", step.phase, reason_cell(step),
                     attempt_cell(step),
                     span(step.started_at, step.finished_at, now), created_cell(step)])
        phases.append(display_phase(step))
    lines = [*header(view, now, after), "", *table(columns, rows, style, phases, 1)]
    return "\n".join(lines) + "\n"


def wide(view: RunView, now: datetime, style: Style, after: float = UNOBSERVED_AFTER) -> str:
    """`orch get RUN -o wide`: one table row per step with every field."""
    columns = [Column("STEP", flexible=True, minimum=16, last_cut=True), Column("KIND"),
               Column("PHASE"),
               Column("REASON", flexible=True, minimum=16, last_cut=True), Column("ATTEMPT"),
               Column("STARTED"), Column("DURATION"),
               Column("DEPENDS-ON", flexible=True, minimum=10),
               Column("CREATED", flexible=True, minimum=12),
               Column("MESSAGE", flexible=True, minimum=10)]
    rows = [[s.name, s.kind or _DASH, s.phase, reason_cell(s), attempt_cell(s),
             _stamp(s.started_at) if s.started_at else _DASH,
             span(s.started_at, s.finished_at, now), ",".join(s.depends_on) or _DASH,
             ",".join(s.created) or _DASH, s.message] for s in view.steps]
    lines = [*header(view, now, after), "",
             *table(columns, rows, style, [display_phase(s) for s in view.steps], 2)]
    return "\n".join(lines) + "\n"


def attempt_cell(step: StepRow, none: str = _DASH) -> str:
    """The attempt, and how often Argo recreated a pod that failed before it started
    (neither a failure nor an attempt): `1 (2 pod restarts)`."""
    attempt = str(step.attempt) if step.attempt else none
    if not step.restarts:
        return attempt
    return f"{attempt} ({step.restarts} pod restart{'' if step.restarts == 1 else 's'})"


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- orch list ---------------------------------------------------------------------
def run_list(runs: Sequence[Mapping[str, Any]], now: datetime, style: Style,
             all_namespaces: bool = False, wide_output: bool = False) -> str:
    """`orch list`: as `kubectl get` prints a list, sorted by namespace and name."""
    columns = ([Column("NAMESPACE")] if all_namespaces else []) + [
        Column("NAME", flexible=True, minimum=16), Column("ORCHESTRATION", flexible=True),
        Column("PHASE"), Column("PROGRESS"), Column("AGE")]
    if wide_output:
        columns += [Column("DURATION"), Column("WORKFLOW", flexible=True),
                    Column("MESSAGE", flexible=True, minimum=10)]
    rows, phases = [], []
    ordered = sorted(runs, key=lambda r: ((r.get("metadata") or {}).get("namespace") or "",
                                          (r.get("metadata") or {}).get("name") or ""))
    for run in ordered:
        meta, status = run.get("metadata") or {}, run.get("status") or {}
        phase = str(status.get("phase") or StepPhase.PENDING)
        created = parse_time(meta.get("creationTimestamp"))
        row = ([str(meta.get("namespace") or "")] if all_namespaces else []) + [
            str(meta.get("name") or ""),
            str(((run.get("spec") or {}).get("orchestrationRef") or {}).get("name") or ""),
            phase, str(status.get("progress") or _DASH),
            human_duration((now - created).total_seconds()) if created else _DASH]
        if wide_output:
            cond: Mapping[str, Any] = next((c for c in status.get("conditions") or ()
                         if c.get("type") == "Succeeded"), {})
            row += [span(parse_time(status.get("startedAt")),
                         parse_time(status.get("finishedAt")), now),
                    str((status.get("workflowRef") or {}).get("name") or _DASH),
                    ": ".join(p for p in (cond.get("reason"), cond.get("message")) if p)]
        rows.append(row)
        phases.append(phase)
    phase_at = 3 if all_namespaces else 2
    return "\n".join(table(columns, rows, style, phases, phase_at)) + "\n"
