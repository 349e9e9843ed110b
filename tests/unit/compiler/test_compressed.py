"""Argo's compressed node status (`compiler.compressed`): every codec Argo v4.1 can
write is read, told apart by its first bytes as Argo does; and nothing in the field
(written by anyone who may edit a Workflow) can make the reader use more memory
than its bounds: a bomb stops at the size limit, and JSON that would cost too much
as Python objects is refused before it is parsed (issue 22).

The payloads under testdata/compressed_nodes/ were made by Argo v4.1's own
compression code and libraries (tools/nodecompress; testdata's README says how);
the bombs are made here with Python's gzip, zstd (PEP 784) and brotli."""

from __future__ import annotations

import base64
import gzip
import json
import tracemalloc
from pathlib import Path
from typing import Any

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.compiled import decode_nodes
from compiler.compressed import (
    MAX_NODES_COST,
    MAX_NODES_JSON,
    UnreadableNodesError,
    algorithm_of,
    decode_compressed_nodes,
    decompress,
    zstd_module,
)
from compiler.jsoncost import CostGate, estimated_cost

zstd = zstd_module()

DATA = Path(__file__).parent / "testdata" / "compressed_nodes"
NODES = json.loads((DATA / "nodes.json").read_text())
PAYLOADS = sorted(p.stem for p in DATA.glob("*.b64"))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_the_payloads_of_every_codec_are_there() -> None:
    assert {p.split("-")[0] for p in PAYLOADS} == {"gzip", "zstd", "brotli"}


@pytest.mark.parametrize("name", PAYLOADS)
def test_what_argo_v4_1_writes_is_read_whatever_the_codec(name: str) -> None:
    text = (DATA / f"{name}.b64").read_text()
    assert algorithm_of(base64.b64decode(text)) == name.split("-")[0]
    assert decode_compressed_nodes(text) == NODES
    assert decode_nodes({"compressedNodes": text, "phase": "Running"}) == NODES


def test_codecs_are_told_apart_by_magic_bytes_as_argo_does() -> None:
    """zstd's frame magic, gzip's magic, and anything else is brotli (it has none)."""
    assert algorithm_of(b"\x28\xb5\x2f\xfd rest") == "zstd"
    assert algorithm_of(b"\x1f\x8b rest") == "gzip"
    assert algorithm_of(b"\x1f\x8c") == algorithm_of(b"") == "brotli"


@pytest.mark.parametrize("algorithm", ["gzip", "zstd", "brotli"])
def test_a_payload_of_many_chunks_is_read_whole(algorithm: str) -> None:
    """3 MB of JSON: more than one output chunk of each decoder."""
    text = json.dumps({f"n{i}": {"id": f"n{i}", "phase": "Succeeded"}
                       for i in range(70_000)}).encode()
    assert len(text) > 3 * 1024 * 1024
    if algorithm == "gzip":
        data = gzip.compress(text)
    elif algorithm == "zstd":
        data = zstd.compress(text)
    else:
        data = brotli.compress(text, quality=4)
    assert decompress(data) == text


def test_gzip_of_several_members_is_read_whole_as_go_reads_it() -> None:
    text = json.dumps(NODES).encode()
    two = gzip.compress(text[:1000]) + gzip.compress(text[1000:])
    assert decode_compressed_nodes(b64(two)) == NODES


def bomb(algorithm: str, size: int) -> bytes:
    """`size` bytes of `[{},{},...]`, compressed."""
    body = b"[" + b"{}," * (size // 3) + b"{}]"
    if algorithm == "gzip":
        return gzip.compress(body, 6)
    if algorithm == "zstd":
        packed: bytes = zstd.compress(body, level=3)
        return packed
    out: bytes = brotli.compress(body, quality=5)
    return out


@pytest.mark.parametrize("algorithm", ["gzip", "zstd", "brotli"])
def test_a_bomb_stops_at_the_size_limit_without_using_more(algorithm: str) -> None:
    """Each codec stops one chunk past the limit, its memory bounded by the limit."""
    data = bomb(algorithm, 16 * 1024 * 1024)
    limit = 4 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableNodesError, match="decompresses to more than"):
            decompress(data, limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * limit
    with pytest.raises(UnreadableNodesError, match="decompresses to more than"):
        decode_compressed_nodes(b64(data), max_json=limit)


def test_the_gzip_bomb_of_issue_22_is_refused_within_the_limit() -> None:
    """Issue 22's bomb: about 600 KB of gzip that is 600 MB of JSON (here 600 gzip
    members of 1 MiB each, which Go's reader and this one read as one stream)."""
    member = gzip.compress(b"{}," * (1024 * 1024 // 3), 9)
    data = gzip.compress(b"[", 9) + member * 600 + gzip.compress(b"{}]", 9)
    assert len(data) < 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableNodesError, match="decompresses to more than"):
            decode_compressed_nodes(b64(data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_NODES_JSON + 16 * 1024 * 1024


def test_json_that_would_cost_too_much_is_refused_before_it_is_parsed() -> None:
    """Under the size limit, empty objects cost 25x their text in Python: what the
    estimate puts over the budget is refused, and nothing of it is parsed."""
    data = b64(gzip.compress(b"[" + b"{}," * 400_000 + b"{}]"))
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableNodesError, match="would take about"):
            decode_compressed_nodes(data, max_cost=16 * 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # the 1.2 MB of text, not the 30 MB of objects


def test_a_legitimately_large_node_status_is_read() -> None:
    """About 19,000 Argo nodes (9 MB of JSON, what a Workflow near Argo's offload
    threshold holds) fit the cost bound."""
    node = next(n for n in NODES.values() if n["type"] == "Pod")
    big = {f"run-1-{i:010d}": {**node, "id": f"run-1-{i:010d}", "displayName": f"s{i}"}
           for i in range(19_000)}
    text = json.dumps(big).encode()
    assert estimated_cost(text) < MAX_NODES_COST
    assert len(decode_compressed_nodes(b64(gzip.compress(text, 1)))) == 19_000


@pytest.mark.parametrize(("text", "why"), [
    ("not base64!", "not base64"),
    (b64(gzip.compress(b'{"a":{}}' * 50)[:10] + b"\xff" * 40), "gzip data is corrupt"),
    (b64(gzip.compress(b'{"a":{}}')[:-12]), "gzip data is"),
    (b64(zstd.compress(b'{"a":{}}')[:-3]), "zstd data is truncated"),
    (b64(brotli.compress(b'{"a":{}}' * 50)[:-4]), "brotli data is"),
    (b64(zstd.compress(b"{}")[:6] + b"\xff" * 9), "zstd data is corrupt"),
    (b64(b"plain text is read as brotli"), "brotli data is corrupt"),
    (b64(gzip.compress(b"[1, 2]")), "not a map of nodes"),
    (b64(gzip.compress(b"{not json")), "JSON is invalid"),
    (b64(gzip.compress(b"[" * 100_000 + b"]" * 100_000)), "JSON is invalid"),
], ids=["not-base64", "gzip-corrupt", "gzip-truncated", "zstd-truncated",
        "brotli-truncated", "zstd-corrupt", "brotli-garbage", "not-a-map", "not-json",
        "nested-too-deep"])
def test_what_cannot_be_read_is_one_error_never_a_crash(text: str, why: str) -> None:
    with pytest.raises(UnreadableNodesError, match=why):
        decode_compressed_nodes(text)


def measured(text: bytes) -> int:
    tracemalloc.start()
    try:
        json.loads(text)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


N = 50_000
SHAPES = {
    "empty-objects": "[" + ",".join(["{}"] * N) + "]",
    "empty-lists": "[" + ",".join(["[]"] * N) + "]",
    "one-key-objects": "[" + ",".join(['{"a":0}'] * N) + "]",
    "nested-objects": "[" + ",".join(['{"a":{"b":{}}}'] * N) + "]",
    "unique-keys": "{" + ",".join(f'"k{i}":0' for i in range(N)) + "}",
    "unique-strings": "[" + ",".join(f'"{i}"' for i in range(N)) + "]",
    "non-ascii-strings": "[" + ",".join(f'"\\ud83d\\ude00{i}"' for i in range(N)) + "]",
    "ints": "[" + ",".join(["1000"] * N) + "]",
    "huge-ints": "[" + ",".join(str(10 ** 30 + i) for i in range(N)) + "]",
    "floats": "[" + ",".join(["1.5"] * N) + "]",
    "lists-of-one": "[" + ",".join(["[0]"] * N) + "]",
    "argo-nodes": json.dumps(NODES, ensure_ascii=False),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_estimate_is_above_what_parsing_takes(shape: str) -> None:
    text = SHAPES[shape].encode()
    assert estimated_cost(text) >= measured(text)


json_values: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=8)
    | st.dictionaries(st.text(max_size=8), children, max_size=8),
    max_leaves=200)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_the_estimate_bounds_any_json(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=bool(len(str(value)) % 2)).encode()
    assert estimated_cost(text) >= measured(text)


def test_the_gate_lets_small_parses_pass_and_large_ones_take_turns() -> None:
    import threading

    gate = CostGate(capacity=100, free_below=10)
    order: list[str] = []
    with gate.reserve(5):  # small: not counted
        assert gate.used == 0
    big_in = threading.Event()
    with gate.reserve(60):
        order.append("first")

        def second() -> None:
            with gate.reserve(60):  # does not fit beside the first
                order.append("second")
                big_in.set()
        t = threading.Thread(target=second)
        t.start()
        assert not big_in.wait(0.2)
        with gate.reserve(30):  # fits beside the first
            order.append("third")
    t.join(5)
    assert order == ["first", "third", "second"] and gate.used == 0
    with gate.reserve(500):  # larger than the capacity: runs, alone
        assert gate.used == 500
