"""`orch watch`: follow one run through a Kubernetes watch until it ends.

Why a reader thread: the watch is a blocking read; the main thread draws. On a
terminal it also redraws once a second, so running steps' durations advance
between events. The reader re-watches from the last resourceVersion it saw when
the server ends a watch (timeoutSeconds), and starts again from a fresh GET when
that version has been compacted away (410 Gone), as client-go's reflector does.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from operate.client import ApiError, Client, NotFoundError, Unreachable
from operate.cluster import gathered_view, get_run, split_workflows
from operate.errors import UsageError
from operate.live import changes, exit_code, final, frame, unobserved_line
from operate.render import UNOBSERVED_AFTER
from operate.terminal import Screen, height, is_terminal, style_for
from operate.view import RunView, build_view
from orchapi.api import ORCHESTRATIONS, RUNS, WORKFLOWS, Obj
from orchapi.vocabulary import RUN_DONE

WATCH_SECONDS = 290  # the server ends each watch after this; the reader re-watches
TICK = 1.0
RETRIES = 5


class RunDeleted(Exception):  # noqa: N818
    pass


@dataclass
class _Event:
    kind: str  # "run", "deleted", "error"
    obj: Obj | None = None
    error: BaseException | None = None


class Reader(threading.Thread):
    """Puts the run, each time it changes, on `events`."""

    def __init__(self, make_client: Callable[[], Client], namespace: str, name: str,
                 resource_version: str, events: queue.Queue[_Event]) -> None:
        super().__init__(daemon=True, name="orch-watch")
        self.make_client, self.namespace, self.name = make_client, namespace, name
        self.rv, self.events = resource_version, events
        self.stopped = threading.Event()

    def run(self) -> None:
        client = self.make_client()
        failures = 0
        while not self.stopped.is_set():
            try:
                self._watch_once(client)
                failures = 0
            except _Gone:
                try:
                    obj = client.get(RUNS.path(self.namespace, self.name))
                except ApiError as exc:
                    self.events.put(_Event("error", error=exc))
                    return
                self.rv = obj["metadata"]["resourceVersion"]
                self.events.put(_Event("run", obj))
            except Unreachable as exc:
                failures += 1
                if failures > RETRIES:
                    self.events.put(_Event("error", error=exc))
                    return
                time.sleep(min(8.0, 0.5 * 2 ** failures))
            except ApiError as exc:
                self.events.put(_Event("error", error=exc))
                return

    def _watch_once(self, client: Client) -> None:
        stream = client.watch(RUNS.path(self.namespace), {
            "fieldSelector": f"metadata.name={self.name}", "resourceVersion": self.rv,
            "allowWatchBookmarks": "true", "timeoutSeconds": str(WATCH_SECONDS)})
        try:
            for event in stream:
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone()
                    raise ApiError(int(obj.get("code") or 500), str(obj.get("reason") or ""),
                                   str(obj.get("message") or ""))
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                if rv:
                    self.rv = rv
                if kind in ("ADDED", "MODIFIED"):
                    self.events.put(_Event("run", obj))
                elif kind == "DELETED":
                    self.events.put(_Event("deleted", obj))
                    self.stopped.set()
                    return
                if self.stopped.is_set():
                    return
        finally:
            stream.close()


class _Gone(Exception):  # noqa: N818
    pass


def now_utc() -> datetime:
    return datetime.now(UTC)


class Follower:
    """Draws the run: a frame redrawn in place on a terminal, lines on a pipe."""

    def __init__(self, client: Client, out: TextIO, show_all: bool = False,
                 after: float = UNOBSERVED_AFTER) -> None:
        self.client, self.out, self.show_all = client, out, show_all
        self.after = after  # seconds without a controller before saying so
        self.style = style_for(out)
        self.screen = Screen(out) if is_terminal(out) else None
        self.view: RunView | None = None
        self.graph_source: tuple[Obj | None, Obj | None] = (None, None)
        self.split: list[Obj] = []  # a split run's Workflows (its graph), read once
        self.noted = False  # a log said that nothing observes the run

    def show(self, run: Obj) -> RunView:
        workflow, orchestration = self._graph_source(run)
        view = build_view(run, workflow, orchestration, workflows=self.split)
        now = now_utc()
        if self.screen is not None:
            self.screen.draw(frame(view, now, self.style, height() - 1, self.show_all,
                                   self.after))
        else:
            lines = changes(self.view, view, now, self.style)
            if lines:
                self.out.write("\n".join(lines) + "\n")
                self.out.flush()
        self.view = view
        self._note(now)
        return view

    def tick(self) -> None:
        if self.view is None:
            return
        now = now_utc()
        if self.screen is not None:
            self.screen.draw(frame(self.view, now, self.style, height() - 1, self.show_all,
                                   self.after))
        self._note(now)

    def wait(self) -> float | None:
        """How long to wait for the next event before ticking: a second on a
        terminal (durations advance); on a log, until it is time to say that
        nothing observes the run, else for ever."""
        if self.screen is not None:
            return TICK
        view = self.view
        if self.noted or view is None or view.observed or view.created_at is None:
            return None
        due = self.after - (now_utc() - view.created_at).total_seconds()
        return max(0.05, due)

    def _note(self, now: datetime) -> None:
        """On a log, the unobserved run's note, once."""
        if self.screen is not None or self.noted or self.view is None:
            return
        line = unobserved_line(self.view, now, self.after)
        if line is not None:
            self.noted = True
            self.out.write(line + "\n")
            self.out.flush()

    def finish(self, view: RunView) -> None:
        """The final view, with what each failed or cancelled step created (its
        pod, the object a resource step made), read once as `orch get` reads it:
        the run's own status does not hold it."""
        if self.screen is not None:
            self.screen.close()
        with contextlib.suppress(NotFoundError):  # deleted as it ended: shown as seen
            view = gathered_view(self.client, view.namespace, view.name)
        self.out.write("\n".join(final(view, now_utc(), self.style)) + "\n")
        self.out.flush()

    def abort(self) -> None:
        if self.screen is not None:
            self.screen.close()

    def _graph_source(self, run: Obj) -> tuple[Obj | None, Obj | None]:
        """The Workflow once the run has one (fetched once: its DAG never changes);
        the Orchestration until then."""
        workflow, orchestration = self.graph_source
        ns = run["metadata"]["namespace"]
        wf_name = ((run.get("status") or {}).get("workflowRef") or {}).get("name")
        if workflow is None and wf_name:
            workflow = self.client.get_or_none(WORKFLOWS.path(ns, wf_name))
        if not self.split and (run.get("status") or {}).get("workflows") and all(
                w.get("uid") for w in run["status"]["workflows"]):
            # Once, when all exist: their DAGs never change. The steps a budgeted
            # status does not list are shown from these (as read then) until the
            # run ends, when `finish` reads them again.
            self.split = split_workflows(self.client, ns, run["status"])
        if workflow is None and not self.split and orchestration is None:
            ref = ((run.get("spec") or {}).get("orchestrationRef") or {}).get("name")
            if ref:
                orchestration = self.client.get_or_none(ORCHESTRATIONS.path(ns, ref))
        self.graph_source = (workflow, orchestration)
        return self.graph_source


def follow(make_client: Callable[[], Client], namespace: str, name: str, out: TextIO,
           show_all: bool = False, after: float = UNOBSERVED_AFTER) -> int:
    """Watch until the run ends; its exit code (0 Succeeded, 1 Failed, 3 Cancelled).
    `after`: seconds without any controller observing the run before saying so.
    Raises RunDeleted, ApiError or Unreachable."""
    client = make_client()
    run = get_run(client, namespace, name)
    follower = Follower(client, out, show_all, after)
    try:
        view = follower.show(run)
        if view.phase in RUN_DONE:
            follower.finish(view)
            return exit_code(view.phase) or 0
        events: queue.Queue[_Event] = queue.Queue()
        reader = Reader(make_client, namespace, name, run["metadata"]["resourceVersion"],
                        events)
        reader.start()
        while True:
            event: _Event | None = None
            try:
                event = events.get(timeout=follower.wait())
                while follower.screen is not None and event.kind == "run":
                    event = events.get_nowait()  # a screen shows the latest state only
            except queue.Empty:
                if event is None:
                    follower.tick()
                    continue
            if event.kind == "error":
                assert event.error is not None
                raise event.error
            if event.kind == "deleted":
                raise RunDeleted(f'OrchestrationRun "{name}" was deleted while watched')
            assert event.obj is not None
            view = follower.show(event.obj)
            if view.phase in RUN_DONE:
                reader.stopped.set()
                follower.finish(view)
                return exit_code(view.phase) or 0
    except BaseException:
        follower.abort()
        raise


def watch(client: Any, name: str, show_all: bool) -> int:
    """Follow `name` in the client's namespace; the reader thread gets a client of
    its own on the same connection settings."""
    first = [client]

    def make() -> Any:
        return first.pop() if first else Client(client.conn)
    return follow(make, client.namespace, name, sys.stdout, show_all, unobserved_after())


def unobserved_after() -> float:
    """Seconds a run may go unobserved by any controller before `get` and `watch`
    say so: `ORCH_UNOBSERVED_AFTER`, else `operate.render.UNOBSERVED_AFTER`."""
    text = os.environ.get("ORCH_UNOBSERVED_AFTER")
    if text is None:
        return UNOBSERVED_AFTER
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise UsageError(f"ORCH_UNOBSERVED_AFTER={text!r}: expected a number of seconds >= 0")
    return value
