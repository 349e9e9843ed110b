"""Golden text of the terminal views (`orch get`, `orch list`, `orch watch`) for
the 200-step runs of `tests.operate_fixtures`: `golden/operate/<case>.txt`.
Written by `make golden` (`tests.golden`), compared byte for byte by
`tests/unit/operate/test_golden_views.py`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from operate import live, render
from operate.render import Style
from operate.view import RunView, build_view, created_by_step
from tests.operate_fixtures import NOW, labels_of, refused, scenario

FOLDER = Path(__file__).resolve().parent.parent / "golden" / "operate"
TERMINAL = Style(width=100)  # what a 100-column terminal gets (colour is tested apart)
PIPE = Style()  # no width: nothing is cut


def view(which: str) -> RunView:
    if which == "refused":  # never submitted: the graph is the Orchestration's
        orchestration, run = refused()
        return build_view(run, None, orchestration)
    f = scenario(which)
    created = created_by_step(f.workflow, f.objects, labels_of(f.workflow))
    return build_view(f.run, f.workflow, None, created)


def _lines(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def _watch_log() -> str:
    """The line-per-change log of a run watched from its start to 'now'."""
    final = view("running")
    steps = []
    for s in final.steps:  # the same run a few minutes earlier: later steps not started
        if s.started_at is not None and s.started_at > NOW - timedelta(minutes=5):
            s = type(s)(s.name, s.kind, "Pending", None, "not started",
                        depends_on=s.depends_on)
        steps.append(s)
    earlier = RunView(final.name, final.namespace, final.orchestration, "Running", "90/200",
                      tuple(steps), started_at=final.started_at)
    return _lines(live.changes(None, earlier, NOW - timedelta(minutes=5), PIPE)
                  + live.changes(earlier, final, NOW, PIPE))


def cases() -> dict[str, Callable[[], str]]:
    return {
        "running-200.tree.txt": lambda: render.tree(view("running"), NOW, PIPE),
        "running-200.tree-100cols.txt": lambda: render.tree(view("running"), NOW, TERMINAL),
        "running-200.wide.txt": lambda: render.wide(view("running"), NOW, PIPE),
        "running-200.watch-frame.txt": lambda: _lines(
            live.frame(view("running"), NOW, TERMINAL, height=40)),
        "running-200.watch-log.txt": _watch_log,
        "cancelled-200.tree.txt": lambda: render.tree(view("cancelled"), NOW, PIPE),
        "cancelled-200.watch-final.txt": lambda: _lines(
            live.final(view("cancelled"), NOW, PIPE)),
        "ended-200.tree.txt": lambda: render.tree(view("ended"), NOW, PIPE),
        "ended-200.watch-final.txt": lambda: _lines(live.final(view("ended"), NOW, PIPE)),
        "refused-200.tree.txt": lambda: render.tree(view("refused"), NOW, PIPE),
        "refused-200.watch-final.txt": lambda: _lines(live.final(view("refused"), NOW, PIPE)),
        "timed-out-200.tree.txt": lambda: render.tree(view("timed-out"), NOW, PIPE),
        "list-all-namespaces.txt": lambda: render.run_list(
            [scenario(w).run for w in ("running", "cancelled", "ended")], NOW, PIPE,
            all_namespaces=True),
        "list-wide.txt": lambda: render.run_list(
            [scenario(w).run for w in ("running", "cancelled", "ended")], NOW, PIPE,
            wide_output=True),
    }
