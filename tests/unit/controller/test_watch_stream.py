"""The informer (`controller.watch.Informer`) over the in-memory apiserver
(tests/unit/controller/fake_api.py) with scripted watch streams: where each watch
resumes, what an ERROR event does (410: relist; another code: the same version
again), what the handler is told of a deletion, a resource the cluster does not
serve (yet), `stop()` during a watch, and health. (tests/unit/controller/
test_watch.py has the list/watch basics, bad objects and backoff.)

The informer runs in a thread until the script has no watch left: the script
then stops it, so no test waits on time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from controller import watch
from controller.kube import GoneError
from controller.metrics import Metrics
from controller.watch import Informer
from orchapi.api import RUNS, Obj, Resource
from tests.unit.controller.fake_api import FakeApi

NS = "ns"


def run_obj(name: str, **extra: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": NS}, **extra}


class Stream:
    """One watch's events; `then` is called after the last one (before the watch
    ends, as the server's timeout would end it)."""

    def __init__(self, *events: Obj, then: Any = None) -> None:
        self.events, self.then = list(events), then
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[Obj]:
        yield from self.events
        if self.then is not None:
            self.then()

    def close(self) -> None:
        self.closed.set()


class Script(FakeApi):
    """The fake apiserver with scripted watches; each `watch` call answers the next
    stream, and once none is left the informer is stopped. `before_list(n)` and
    `before_watch(n)` run before the n-th list or watch (from 0): what changes in
    the cluster between two calls."""

    def __init__(self, *streams: Stream, unserved: tuple[Resource, ...] = (),
                 before_list: Callable[[int], None] | None = None,
                 before_watch: Callable[[int], None] | None = None) -> None:
        super().__init__(unserved)
        self.streams = list(streams)
        self.before_list, self.before_watch = before_list, before_watch
        self.lists = 0
        self.watched: list[dict[str, Any]] = []
        self.informer: Informer | None = None

    def list_pages(self, res: Resource, namespace: str | None, label_selector: str = "",
                   limit: int = 100) -> Iterator[tuple[list[Obj], str]]:
        if self.before_list is not None:
            self.before_list(self.lists)
        self.lists += 1
        return super().list_pages(res, namespace, label_selector, limit)

    def watch(self, res: Resource, namespace: str | None, resource_version: str,
              timeout_seconds: int, idle_timeout: float, label_selector: str = "") -> Stream:
        if self.before_watch is not None:
            self.before_watch(len(self.watched))
        self.watched.append({"namespace": namespace, "from": resource_version,
                             "selector": label_selector, "idle": idle_timeout})
        if not self.streams:
            self.stop()
            return Stream()
        return self.streams.pop(0)

    def stop(self) -> None:
        assert self.informer is not None
        self.informer.stop()


def informer(script: Script, **kw: Any) -> tuple[Informer, list[tuple[str, str, Obj]]]:
    seen: list[tuple[str, str, Obj]] = []
    inf = Informer(script, RUNS, NS,  # type: ignore[arg-type]
                   lambda kind, o: seen.append((kind, o["metadata"]["name"], o)), **kw)
    script.informer = inf
    return inf, seen


def run_to_the_end(inf: Informer) -> None:
    t = threading.Thread(target=inf.run, daemon=True)
    t.start()
    t.join(30)  # a hang guard: the script stops it
    assert not t.is_alive(), "the informer did not reach the end of the script"


def names(seen: list[tuple[str, str, Obj]]) -> list[tuple[str, str]]:
    return [(kind, name) for kind, name, _ in seen]


def test_a_watch_that_ends_resumes_from_the_last_version_seen_a_bookmark_included() -> None:
    script = Script(Stream({"type": "ADDED", "object": {"metadata": {
                               "name": "b", "namespace": NS, "resourceVersion": "201"}}},
                           {"type": "BOOKMARK", "object": {"metadata": {
                               "resourceVersion": "250"}}}),
                    Stream())
    script.put(RUNS, run_obj("a") | {"metadata": {"name": "a", "namespace": NS,
                                                  "labels": {"team": "a"}}})
    script.put(RUNS, run_obj("other"))  # not selected
    inf, seen = informer(script, label_selector="team=a", idle_timeout=42.0)
    run_to_the_end(inf)
    listed_at = script.watched[0]["from"]
    assert [w["from"] for w in script.watched] == [listed_at, "250", "250"]
    assert script.verbs("list") == [("list", "orchestrationruns", "team=a")]  # once
    assert {(w["namespace"], w["selector"], w["idle"]) for w in script.watched} == {
        (NS, "team=a", 42.0)}
    assert names(seen) == [("ADDED", "a"), ("ADDED", "b")]


def test_an_expired_version_in_an_error_event_relists_and_tells_the_differences() -> None:
    def changes_meanwhile(n: int) -> None:
        if n == 1:  # between the two lists
            del script.objects[("orchestrationruns", NS, "gone")]
            script.put(RUNS, run_obj("kept", spec={"v": 2}))
            script.put(RUNS, run_obj("new"))

    script = Script(Stream({"type": "ERROR", "object": {"code": 410, "reason": "Expired",
                                                        "message": "too old"}}),
                    Stream(), before_list=changes_meanwhile)
    script.put(RUNS, run_obj("gone"))
    script.put(RUNS, run_obj("kept", spec={"v": 1}))
    script.put(RUNS, run_obj("same"))
    metrics = Metrics()
    inf, seen = informer(script, metrics=metrics)
    run_to_the_end(inf)
    assert script.lists == 2
    gone_state = next(o for kind, name, o in seen if (kind, name) == ("ADDED", "gone"))
    assert names(seen)[3:] == [("MODIFIED", "kept"), ("ADDED", "new"), ("DELETED", "gone")]
    assert seen[-1][2]["metadata"] == gone_state["metadata"]  # its last state
    assert metrics.watch_restarts.labels("orchestrationruns", "gone")._value.get() == 1
    assert inf.get(NS, "gone") is None and inf.get(NS, "new") is not None


def test_another_error_event_watches_again_from_the_same_version_without_a_relist(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("controller.watch.random.random", lambda: 0.0)
    script = Script(Stream({"type": "ERROR", "object": {"code": 500, "reason": "InternalError",
                                                        "message": "etcd"}}),
                    Stream())
    script.put(RUNS, run_obj("a"))
    metrics = Metrics()
    inf, seen = informer(script, metrics=metrics)
    run_to_the_end(inf)
    assert len(script.verbs("list")) == 1
    assert len({w["from"] for w in script.watched}) == 1  # every watch from the list's version
    assert metrics.watch_restarts.labels("orchestrationruns", "error")._value.get() == 1
    assert names(seen) == [("ADDED", "a")]


def test_a_deleted_event_tells_the_object_it_carries_typed_and_forgets_it() -> None:
    """The DELETED event carries the object's last state as the apiserver had it;
    the handler gets that (with its apiVersion and kind, which a watch event's
    object may lack), also for an object the cache never held."""
    script = Script(Stream(
        {"type": "MODIFIED", "object": {"metadata": {"name": "a", "namespace": NS,
                                                     "resourceVersion": "301"},
                                        "status": {"phase": "Running"}}},
        {"type": "DELETED", "object": {"metadata": {"name": "a", "namespace": NS,
                                                    "resourceVersion": "302"},
                                       "status": {"phase": "Succeeded"}}},
        {"type": "DELETED", "object": {"metadata": {"name": "never-seen", "namespace": NS,
                                                    "resourceVersion": "303"}}}))
    script.put(RUNS, run_obj("a"))
    inf, seen = informer(script)
    run_to_the_end(inf)
    assert names(seen) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a"),
                           ("DELETED", "never-seen")]
    for _, _, deleted in seen[2:]:
        assert (deleted["apiVersion"], deleted["kind"]) == (RUNS.api_version, RUNS.kind)
    assert seen[2][2]["status"] == {"phase": "Succeeded"}
    assert inf.get(NS, "a") is None and inf.get(NS, "never-seen") is None
    assert script.watched[-1]["from"] == "303"


def test_a_resource_not_served_is_an_empty_synced_cache_until_its_crd_is_installed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "ABSENT_RECHECK", 0.0)
    synced_while_absent: list[bool] = []

    def install(n: int) -> None:
        if n == 1:  # the second look finds the CRD installed
            synced_while_absent.append(inf.synced.is_set())
            script.unserved.clear()

    script = Script(Stream(), unserved=(RUNS,), before_list=install)
    script.put(RUNS, run_obj("a"))
    metrics = Metrics()
    inf, seen = informer(script, optional=True, metrics=metrics)
    run_to_the_end(inf)
    assert synced_while_absent == [True]  # an answer, not an error
    assert metrics.watch_restarts.labels("orchestrationruns", "error")._value.get() == 0
    assert script.lists == 2
    assert names(seen) == [("ADDED", "a")]


def test_a_crd_removed_under_an_optional_cache_tells_every_object_deleted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "ABSENT_RECHECK", 0.0)

    def uninstall() -> None:
        script.unserved.add("orchestrationruns")
        raise GoneError(410, "Expired", "relist")

    def third_look(n: int) -> None:
        if n == 2:  # nothing more to script
            script.stop()

    script = Script(Stream(then=uninstall), before_list=third_look)
    script.put(RUNS, run_obj("a"))
    inf, seen = informer(script, optional=True)
    run_to_the_end(inf)
    assert names(seen) == [("ADDED", "a"), ("DELETED", "a")]
    assert inf.get(NS, "a") is None and inf.synced.is_set()


def test_stop_during_a_watch_closes_it_and_the_loop_ends() -> None:
    opened, closed = threading.Event(), threading.Event()
    ended_by_close: list[bool] = []

    class Held(Stream):
        def __iter__(self) -> Iterator[Obj]:
            opened.set()
            ended_by_close.append(closed.wait(30))  # a hang guard
            yield from ()

        def close(self) -> None:
            super().close()
            closed.set()  # as closing the connection ends the read

    script = Script(Held())
    inf, _ = informer(script)
    t = threading.Thread(target=inf.run, daemon=True)
    t.start()
    assert opened.wait(30)
    inf.stop()
    t.join(30)
    assert not t.is_alive() and ended_by_close == [True]
    assert len(script.watched) == 1  # no new watch after the stop


def test_health_is_the_last_sign_of_life_within_the_window() -> None:
    now = [1000.0]

    def later(n: int) -> None:
        now[0] += 50  # each watch opens 50 s after what came before

    script = Script(Stream({"type": "BOOKMARK", "object": {"metadata": {
        "resourceVersion": "400"}}}), before_watch=later)
    inf, _ = informer(script, clock=lambda: now[0])
    assert inf.is_healthy(0)  # created: counted as contact
    now[0] += 100
    assert not inf.is_healthy(60)  # nothing heard for 100 s
    run_to_the_end(inf)  # listed at 1100; watches opened at 1150 (a bookmark) and 1200
    now[0] += 60
    assert inf.is_healthy(60) and not inf.is_healthy(59)
