"""Argo's compressed node status (`status.compressedNodes`), decoded within bounds.

Why its own module: the text is base64 of the node map's JSON compressed with gzip,
or, since Argo v4.1, zstd or brotli (`WORKFLOW_COMPRESSION_ALGORITHM`,
argo-workflows #16262). Argo tells them apart on read by their first bytes
(`util/file/fileutil.go` `DecompressContent`, v4.1.0): the zstd frame magic
`28 b5 2f fd`, the gzip magic `1f 8b`, and anything else is brotli, which has no
magic. The same rule is applied here.

And why bounded: anyone who may edit Workflows in a namespace can write this field,
and 816 KB of gzip can be 600 MB of JSON (issue 22). So a decode stops at
`MAX_NODES_JSON` bytes of JSON, refuses JSON whose Python objects would cost more
than `MAX_NODES_COST` (`compiler.jsoncost`, from the text, before parsing it),
and decompresses one at a time in a process and parses within the process's parse
budget, so the controller's workers cannot add their decodes up. Legitimate
node status fits with room to spare: Argo compresses only a Workflow over 1 MiB
and offloads one still over 1 MiB compressed, and node JSON compresses 18-22x
(20,000 nodes: 9.4 MB of JSON, 0.44-0.52 MB compressed), so a Workflow holds at
most about 16 MB of node JSON. The cost bound admits about 9 MB of it (19,000
nodes; orch's own Workflows, split under a 1 MiB spec, have a few thousand): past
that the run says the node status cannot be read, as it does for an offloaded
one, rather than risk the controller's memory limit.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
import threading
import zlib
from types import ModuleType
from typing import Any

from compiler.jsoncost import GATE, estimated_cost

MAX_NODES_JSON = 64 * 1024 * 1024  # bytes of decompressed JSON
MAX_NODES_COST = 96 * 1024 * 1024  # bytes of Python objects, as `estimated_cost` counts
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1024 * 1024
_one_at_a_time = threading.Lock()


class UnreadableNodesError(ValueError):
    """`status.compressedNodes` cannot be read: not base64, not one of Argo's
    codecs, corrupt, or larger than this process decodes."""


def algorithm_of(data: bytes) -> str:
    """Which codec Argo used, by the rule of its `DecompressContent`."""
    if data.startswith(ZSTD_MAGIC):
        return "zstd"
    if data.startswith(GZIP_MAGIC):
        return "gzip"
    return "brotli"


def decompress(data: bytes, limit: int = MAX_NODES_JSON) -> bytes:
    """The decompressed bytes, at most `limit` of them (more is UnreadableNodesError,
    found without decompressing further)."""
    algorithm = algorithm_of(data)
    try:
        if algorithm == "gzip":
            out = _gunzip(data, limit)
        elif algorithm == "zstd":
            out = _unzstd(data, limit)
        else:
            out = _unbrotli(data, limit)
    except UnreadableNodesError:
        raise
    except Exception as e:  # each library raises its own error type for corrupt input
        raise UnreadableNodesError(f"{algorithm} data is corrupt: {e}") from None
    return out


def _too_large(limit: int) -> UnreadableNodesError:
    return UnreadableNodesError(
        f"it decompresses to more than {limit} bytes, more than a Workflow's node status "
        "can be (issue 22)")


def _gunzip(data: bytes, limit: int) -> bytes:
    # wbits 31: a gzip header and trailer; several members are read in turn, as
    # Go's gzip.Reader does (multistream).
    out = bytearray()
    rest = data
    while rest:
        d = zlib.decompressobj(31)
        while not d.eof:
            chunk = d.decompress(rest, limit + 1 - len(out))
            out += chunk
            if len(out) > limit:
                raise _too_large(limit)
            rest = d.unconsumed_tail
            if not rest and not chunk and not d.eof:
                raise UnreadableNodesError("gzip data is truncated")
        rest = d.unused_data
    return bytes(out)


def zstd_module() -> ModuleType:
    """Python's compression.zstd (3.14+), else its backport (pyproject.toml)."""
    try:
        return importlib.import_module("compression.zstd")
    except ImportError:
        return importlib.import_module("backports.zstd")


def _unzstd(data: bytes, limit: int) -> bytes:
    # PEP 784's decompressor (Python 3.14's compression.zstd, backported): its output
    # per call is bounded by max_length, so a bomb stops at `limit`. Frames are read
    # in turn, as Go's DecodeAll reads them.
    zstd = zstd_module()  # loaded only when a zstd payload is met
    out = bytearray()
    rest = data
    while rest:
        d = zstd.ZstdDecompressor()
        out += d.decompress(rest, max_length=limit + 1 - len(out))
        while not d.eof and len(out) <= limit:
            if d.needs_input:
                raise UnreadableNodesError("zstd data is truncated")
            out += d.decompress(b"", max_length=limit + 1 - len(out))
        if len(out) > limit:
            raise _too_large(limit)
        rest = d.unused_data
    return bytes(out)


def _unbrotli(data: bytes, limit: int) -> bytes:
    import brotli  # loaded only when a brotli payload is met

    # Output comes a chunk per call; the input is given once, then empty input
    # drains it, until the stream ends or no more comes (truncated).
    d = brotli.Decompressor()
    out = bytearray(d.process(data, output_buffer_limit=_CHUNK))
    while len(out) <= limit and not d.is_finished():
        chunk = d.process(b"", output_buffer_limit=_CHUNK)
        if not chunk:
            break
        out += chunk
    if len(out) > limit:
        raise _too_large(limit)
    if not d.is_finished():
        raise UnreadableNodesError("brotli data is truncated")
    return bytes(out)


def decode_compressed_nodes(text: Any, max_json: int = MAX_NODES_JSON,
                            max_cost: int = MAX_NODES_COST) -> dict[str, Any]:
    """`status.compressedNodes` as the node map, or UnreadableNodesError."""
    if not isinstance(text, str):
        raise UnreadableNodesError("it is not a string")
    try:
        # Go's decoder skips line breaks; nothing else outside the alphabet.
        data = base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError) as e:
        raise UnreadableNodesError(f"it is not base64: {e}") from None
    with _one_at_a_time:
        raw = decompress(data, max_json)
        cost = estimated_cost(raw)
        if cost > max_cost:
            raise UnreadableNodesError(
                f"its {len(raw)} bytes of JSON would take about {cost >> 20} MiB to read, "
                f"more than this controller reads ({max_cost >> 20} MiB)")
        taken = GATE.take(cost)  # held by the reader's thread while it uses the nodes
        try:
            nodes = json.loads(raw)
        except (ValueError, RecursionError) as e:
            GATE.give(taken)
            raise UnreadableNodesError(f"its JSON is invalid: {e}") from None
        del raw
    if not isinstance(nodes, dict):
        raise UnreadableNodesError("its JSON is not a map of nodes")
    return nodes
