"""The informer (`controller.watch`) against a scripted apiserver: what it stores and
tells the handler across lists, watches, gaps and errors, and that nothing one
object holds (issue 22: a malformed Workflow a tenant wrote) ends a watch.

The apiserver here is a script: each `list_pages` call answers the next list, each
`watch` call the next stream of events (or raises the error the real `Kube` would).
Time is a fake clock the script moves, so backoff is checked without sleeping.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from controller import watch
from controller.kube import ApiError, GoneError, WatchStream, parse_event
from controller.metrics import Metrics
from controller.mirror import workflow_view
from controller.store import Store
from controller.watch import Informer
from orchapi.api import RUNS, WORKFLOWS, Obj

NS = "ns"


def obj(name: str, rv: str, **body: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": NS, "resourceVersion": rv}, **body}


class Stream:
    """One watch: its events, then (optionally) an error, as the real stream ends."""

    def __init__(self, events: list[Obj], error: Exception | None = None,
                 before_error: Callable[[], None] | None = None) -> None:
        self.events, self.error, self.before_error = events, error, before_error
        self.closed = False

    def __iter__(self) -> Iterator[Obj]:
        yield from self.events
        if self.before_error is not None:
            self.before_error()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True


class Script:
    """The apiserver as a script of lists and watches; the informer is stopped once
    the script has nothing more to say."""

    def __init__(self, lists: list[list[Obj]], watches: list[Stream]) -> None:
        self.lists, self.watches = lists, watches
        self.list_calls = 0
        self.watch_calls: list[str] = []  # the resourceVersion each watch started from
        self.informer: Informer | None = None

    def list_pages(self, *_: Any) -> Iterator[tuple[list[Obj], str]]:
        items = self.lists.pop(0)
        self.list_calls += 1
        rv = max((o["metadata"]["resourceVersion"] for o in items), default="1", key=int)
        yield items, rv

    def watch(self, _res: Any, _ns: Any, rv: str, *_: Any) -> Stream:
        self.watch_calls.append(rv)
        if not self.watches:
            assert self.informer is not None
            self.informer.stop()
            return Stream([])
        return self.watches.pop(0)


def informer(script: Script, handler: Callable[[str, Obj], None], **kw: Any) -> Informer:
    inf = Informer(script, kw.pop("resource", RUNS), NS, handler, **kw)  # type: ignore[arg-type]
    script.informer = inf
    return inf


def run_until_done(inf: Informer) -> None:
    t = threading.Thread(target=inf.run, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "the informer did not finish the script"


def recorder() -> tuple[list[tuple[str, str]], Callable[[str, Obj], None]]:
    seen: list[tuple[str, str]] = []
    return seen, lambda kind, o: seen.append((kind, o["metadata"]["name"]))


def test_list_then_watch_tells_the_handler_every_change() -> None:
    seen, handler = recorder()
    script = Script([[obj("a", "1"), obj("b", "2")]], [Stream([
        {"type": "MODIFIED", "object": obj("a", "3")},
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "4"}}},
        {"type": "DELETED", "object": obj("b", "5")},
    ])])
    inf = informer(script, handler)
    run_until_done(inf)
    assert seen == [("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    assert script.watch_calls == ["2", "5"]  # resumed from the last version seen
    assert inf.get(NS, "a") is not None and inf.get(NS, "b") is None and inf.synced.is_set()


def test_a_gap_relists_and_tells_only_the_differences() -> None:
    seen, handler = recorder()
    script = Script([[obj("a", "1"), obj("b", "2")], [obj("a", "1"), obj("c", "7")]],
                    [Stream([], GoneError(410, "Expired", "too old"))])
    run_until_done(informer(script, handler))
    assert seen == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c"), ("DELETED", "b")]
    assert script.list_calls == 2


def test_a_bad_object_in_a_watch_is_skipped_and_the_watch_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    """Issue 22: a Workflow the view cannot read (its templates are not a list), and
    one the handler fails on, are each logged and skipped; the events after them
    arrive on the same watch, and the watch is never restarted."""
    seen: list[str] = []

    def handler(_kind: str, o: Obj) -> None:
        if o["metadata"]["name"] == "poison":
            raise KeyError("spec")
        seen.append(o["metadata"]["name"])

    metrics = Metrics()
    bad_view = obj("bad", "2", spec={"entrypoint": "main", "templates": 7})
    script = Script([[]], [Stream([
        {"type": "ADDED", "object": bad_view},
        {"type": "ADDED", "object": obj("poison", "3")},
        {"type": "ADDED", "object": obj("victim", "4")},
        parse_event(b'{"type": "ADDED", "object": {"metadata": '),  # not JSON
        {"type": "MODIFIED", "object": obj("victim", "6")},
    ])])
    inf = informer(script, handler, resource=WORKFLOWS, metrics=metrics,
                   store=Store(view=broken_view))
    with caplog.at_level(logging.WARNING, logger="orch.watch"):
        run_until_done(inf)
    assert seen == ["victim", "victim"]
    assert script.watch_calls == ["1", "6"]  # one watch served all; the next starts at 6
    assert metrics.watch_restarts.labels("workflows", "error")._value.get() == 0
    assert metrics.skipped_objects.labels("workflows")._value.get() == 3
    skipped = [r.__dict__.get("object") for r in caplog.records
               if r.getMessage().startswith("object skipped")]
    assert skipped == ["ns/bad", "ns/poison", "?"]


def broken_view(o: Obj) -> Obj:
    """The cache's view of a Workflow as main's Store uses it (raises on a bad shape)."""
    return workflow_view(o)


def test_a_bad_object_in_a_list_is_skipped_and_the_rest_is_listed() -> None:
    seen, handler = recorder()
    script = Script([[obj("a", "1"), obj("bad", "2", spec={"templates": 7,
                                                           "entrypoint": "main"}),
                      obj("c", "3")]], [])
    inf = informer(script, handler, resource=WORKFLOWS, store=Store(view=broken_view))
    run_until_done(inf)
    assert seen == [("ADDED", "a"), ("ADDED", "c")] and inf.synced.is_set()


def test_backoff_grows_while_failing_and_starts_over_after_a_healthy_watch(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 22: the backoff used to grow to 5 s and stay there for good. Three
    quick failures back off 0.2, 0.4, 0.8 s; a watch that then served for
    HEALTHY_PERIOD fails with the base delay again."""
    now = [0.0]
    monkeypatch.setattr("controller.watch.random.random", lambda: 0.0)  # no jitter

    def later() -> None:
        now[0] += watch.HEALTHY_PERIOD + 1

    down = ApiError(500, "InternalError", "apiserver restarting")
    script = Script([[]], [Stream([], down), Stream([], down), Stream([], down),
                           Stream([{"type": "ADDED", "object": obj("a", "2")}], down,
                                  before_error=later),
                           Stream([], down)])
    inf = informer(script, lambda *_: None, clock=lambda: now[0])
    inf._stop.wait = lambda timeout=None: False  # type: ignore[method-assign]  # no sleeping
    with caplog.at_level(logging.WARNING, logger="orch.watch"):
        run_until_done(inf)
    delays = [r.__dict__["retry_in"] for r in caplog.records if "retry_in" in r.__dict__]
    assert delays == [0.2, 0.4, 0.8, 0.2, 0.4]


def test_the_backoff_is_capped() -> None:
    assert watch.BACKOFF_BASE * 2 ** 10 > watch.BACKOFF_MAX == 5.0


class Response:
    """What urllib3 hands the watch: the body in chunks cut anywhere."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def stream(self, amt: Any = None, decode_content: bool = True) -> Iterator[bytes]:
        yield from self.chunks


@pytest.mark.parametrize("cut", [1, 3, 7, 64, 10_000], ids=lambda n: f"chunks-of-{n}")
def test_the_stream_splits_lines_wherever_chunks_end(cut: int) -> None:
    body = (b'{"type":"ADDED","object":{"a":1}}\n\n{"type":"DELETED","object":{}}\n'
            b'[1]\n' + b'{"type":"MODIFIED","object":{"b":"' + b"x" * 5000 + b'"}}')
    chunks = [body[i:i + cut] for i in range(0, len(body), cut)]
    events = list(WatchStream(Response(chunks)))
    assert [e["type"] for e in events] == ["ADDED", "DELETED", "UNREADABLE", "MODIFIED"]
    assert events[3]["object"]["b"] == "x" * 5000


def test_a_line_nested_deeper_than_the_parser_goes_is_unreadable_not_an_error() -> None:
    deep = b'{"type":"ADDED","object":{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    event = parse_event(deep)
    assert event["type"] == "UNREADABLE" and "Recursion" in event["error"]
