"""What a tenant's largest objects cost the controller (issue 22): the caches keep
views (an Orchestration's graph and calls, nothing of its steps' unknown keys),
large views compressed, judgments of heavy Orchestrations not kept, and a list
page that is too large is asked for again in smaller pages. The real-cluster
proof, with the controller's RSS, is tests/e2e/test_tenant_memory.py."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from compiler.compiled import graph_from_orchestration
from controller.admission import calls_of_object
from controller.judged import JUDGED_WEIGHT, Judgements
from controller.kube import PageTooLargeError, read_body
from controller.main import stores
from controller.mapping import ORCHESTRATION
from controller.orchestrations import is_judged, orchestration_view
from orchapi.api import Obj


def bomb_orchestration(name: str = "bomb", empties: int = 440_000) -> Obj:
    """Issue 22's Orchestration: one Container step and an unknown key holding
    440,000 empty objects (1.3 MB of JSON, 35 MiB as Python objects), plus a
    SubOrchestration step whose call the cache must keep."""
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
            "metadata": {"name": name, "namespace": "t", "uid": f"u-{name}", "generation": 2,
                         "resourceVersion": "5", "managedFields": [{"manager": "kubectl"}]},
            "spec": {"steps": [
                {"name": "a", "kind": "Container", "image": "alpine",
                 "junk": [{} for _ in range(empties)]},
                {"name": "b", "kind": "SubOrchestration", "dependsOn": ["a"],
                 "orchestrationRef": {"name": "child"}, "continueOnFailure": True}]},
            "status": {"observedGeneration": 2, "phase": "Ready", "conditions": [{}] * 5}}


def test_the_cache_keeps_an_orchestrations_graph_and_calls_and_nothing_else() -> None:
    full = bomb_orchestration(empties=3)
    view = orchestration_view(full)
    assert orchestration_view(view) == view  # idempotent
    assert graph_from_orchestration(view) == graph_from_orchestration(full)
    assert calls_of_object(view) == calls_of_object(full) == ["child"]
    assert is_judged(view) and is_judged(full)
    assert "junk" not in json.dumps(view) and "managedFields" not in view["metadata"]


def test_ten_orchestrations_at_the_size_limit_cost_the_cache_little() -> None:
    text = json.dumps(bomb_orchestration())
    assert len(text) > 1_300_000
    store = stores()[ORCHESTRATION]
    parsed = [json.loads(text.replace('"bomb"', f'"bomb-{i}"')) for i in range(10)]
    tracemalloc.start()
    for obj in parsed:
        store.put(obj)
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert held < 64 * 1024, f"{held} bytes for 10 Orchestrations"  # was 35 MiB each
    assert store.summary("t", "bomb-3") is True


def test_a_heavy_orchestrations_judgment_is_not_kept() -> None:
    judgements = Judgements()
    heavy = json.loads(json.dumps(bomb_orchestration()))
    judged = judgements.judge(heavy)
    assert judged.model is not None and not judged.problems
    assert len(judgements) == 0  # its model holds the 440,000 objects
    light = bomb_orchestration("light", empties=10)
    judgements.judge(light)
    assert len(judgements) == 1 and judgements.weight < JUDGED_WEIGHT


class Response:
    """An unread response body, in chunks, as urllib3 gives it."""

    def __init__(self, size: int) -> None:
        self.size, self.read, self.closed, self.released = size, 0, False, False

    def stream(self, amt: int, decode_content: bool = True) -> Iterator[bytes]:
        while self.read < self.size and not self.closed:
            n = min(amt, self.size - self.read)
            self.read += n
            yield b" " * n

    def close(self) -> None:
        self.closed = True

    def release_conn(self) -> None:
        self.released = True


def test_a_body_past_its_limit_is_not_read_to_the_end() -> None:
    r = Response(100 * 1024 * 1024)
    with pytest.raises(PageTooLargeError):
        read_body(r, 1024 * 1024)
    assert r.closed and r.released and r.read < 2 * 1024 * 1024
    small = Response(1000)
    assert read_body(small, 1024 * 1024) == b" " * 1000 and small.released


# -- list pages: too large, or an object Python cannot parse ---------------------------
class Body:
    """A list response the client did not read."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, amt: int, decode_content: bool = True) -> Iterator[bytes]:
        for i in range(0, len(self.data), amt):
            yield self.data[i:i + amt]

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


class Lister:
    """The apiserver's paged list of `objects` (a continue token is the index)."""

    def __init__(self, objects: list[bytes]) -> None:
        self.objects, self.asked = objects, []  # type: tuple[list[bytes], list[int]]

    def list_namespaced_custom_object(self, *_: Any, limit: int, _continue: str = "",
                                      **__: Any) -> Body:
        self.asked.append(limit)
        start = int(_continue or 0)
        page = self.objects[start:start + limit]
        rest = start + limit < len(self.objects)
        meta = {"resourceVersion": "7", **({"continue": str(start + limit)} if rest else {})}
        return Body(b'{"apiVersion":"x/v1","items":[' + b",".join(page)
                    + b'],"kind":"L","metadata":' + json.dumps(meta).encode() + b"}")


def small(i: int) -> bytes:
    return json.dumps({"metadata": {"name": f"o{i}"}}).encode()


def large(i: int) -> bytes:  # 0.75 MB of empty objects: 56 MiB estimated, 18 MiB parsed
    return json.dumps({"metadata": {"name": f"big{i}"}, "junk": [{}] * 250_000}).encode()


def listed(objects: list[bytes], limit: int = 50) -> tuple[list[str], list[int], int]:
    from compiler.jsoncost import GATE
    from controller.kube import Kube
    from orchapi.api import RUNS

    kube = Kube.__new__(Kube)
    lister = Lister(objects)
    kube.custom, kube.metrics, kube.request_timeout = lister, None, 1.0  # type: ignore[assignment]
    peak, names = 0, []
    for page, _ in kube.list_pages(RUNS, "ns", limit=limit):
        peak = max(peak, GATE.used)
        names += [o["metadata"]["name"] for o in page]
    assert GATE.used == 0  # every page's cost given back
    return names, lister.asked, peak


def test_pages_whose_objects_cost_too_much_are_asked_for_in_smaller_pages() -> None:
    from compiler.jsoncost import GATE

    objects = [small(i) for i in range(40)] + [large(i) for i in range(4)] + [small(40)]
    names, asked, peak = listed(objects)
    assert names == [f"o{i}" for i in range(40)] + [f"big{i}" for i in range(4)] + ["o40"]
    assert min(asked) < 50 and peak <= GATE.capacity  # never two large objects at once


def test_an_object_python_cannot_parse_is_skipped_and_the_list_goes_on() -> None:
    deep = b'{"metadata":{"name":"deep"},"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    names, asked, _ = listed([small(0), deep, small(1), small(2)], limit=3)
    assert names == ["o0", "o1", "o2"]
    assert asked == [3, 1, 1, 1, 2]  # one at a time over the page that failed, then growing


def test_a_thread_holding_parsed_objects_never_waits_for_itself() -> None:
    import threading

    from compiler.jsoncost import CostGate

    gate = CostGate(capacity=100, free_below=10)
    gate.take(80)
    gate.take(80)  # the same thread (one reconcile reading two objects): no deadlock
    assert gate.used == 160
    other = threading.Thread(target=lambda: gate.take(50))
    other.start()
    other.join(0.2)
    assert other.is_alive()  # another thread waits for room
    gate.release_held()
    other.join(5)
    assert not other.is_alive() and gate.used == 50


def test_what_was_given_back_is_never_given_back_twice() -> None:
    """A page or event's cost is given back by whichever comes first, the reader
    letting go of everything it holds or the list moving on: never both (the
    count went below zero, and a large parse then waited for ever)."""
    from compiler.jsoncost import CostGate

    gate = CostGate(capacity=100, free_below=10)
    ticket = gate.take(60)
    gate.release_held()
    gate.give(ticket)
    assert gate.used == 0
    with gate.reserve(200):  # larger than the capacity: runs, since nothing is held
        assert gate.used == 200
    assert gate.used == 0
