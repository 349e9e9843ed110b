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
from controller.kube import PageTooLargeError, read_body
from controller.main import stores
from controller.mapping import ORCHESTRATION
from controller.orchestrations import is_judged, orchestration_view
from controller.reconcile import JUDGED_WEIGHT, Caches, Reconciler

Obj = dict[str, Any]


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
    reconciler = Reconciler(None, Caches(*(lambda _ns, _n: None,) * 3),  # type: ignore[arg-type]
                            None)  # type: ignore[arg-type]
    heavy = json.loads(json.dumps(bomb_orchestration()))
    problems, model = reconciler._judge(heavy)
    assert model is not None and not problems
    assert len(reconciler._judged) == 0  # its model holds the 440,000 objects
    light = bomb_orchestration("light", empties=10)
    reconciler._judge(light)
    assert len(reconciler._judged) == 1 and reconciler._judged_weight < JUDGED_WEIGHT


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
