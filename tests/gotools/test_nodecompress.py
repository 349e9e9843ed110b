"""Argo v4.1's node status compression, both ways, with Go's own code: random node
maps compressed by `nodecompress` (Argo v4.1.0's `CompressContent` and the
libraries it pins, every algorithm and level range) are decoded by orch exactly;
and what orch writes back into a Workflow (a released wait, re-compressed when
the Workflow is large, `controller.suspend`) is read by Argo's `DecompressContent`.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.compressed import algorithm_of, decode_compressed_nodes
from controller.suspend import set_suspend_node

# algorithm, level ("" = Argo's default), gzip implementation
SETTINGS = [("gzip", "", "PGZip"), ("gzip", "1", "GZip"), ("gzip", "9", "PGZip"),
            ("zstd", "", ""), ("zstd", "1", ""), ("zstd", "4", ""),
            ("brotli", "", ""), ("brotli", "0", ""), ("brotli", "11", "")]


@pytest.fixture(scope="module")
def nodecompress(go_bin: Path) -> Path:
    tool = go_bin / "nodecompress"
    assert os.access(tool, os.X_OK), f"{tool} is not built: run tools/build.sh"
    return tool


def go(tool: Path, data: bytes, *args: str, **env: str) -> bytes:
    out = subprocess.run([str(tool), *args], input=data, capture_output=True, check=True,
                         env={**os.environ, **env}, timeout=60)
    return out.stdout


text = st.text(st.characters(codec="utf-8"), max_size=30)
node = st.fixed_dictionaries({
    "id": text, "name": text, "displayName": text,
    "type": st.sampled_from(["Pod", "DAG", "Suspend", "Retry", "Skipped"]),
    "phase": st.sampled_from(["Pending", "Running", "Succeeded", "Failed", "Error"]),
    "message": text, "children": st.lists(text, max_size=4)})
node_maps = st.dictionaries(text, node, max_size=60)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=node_maps, setting=st.sampled_from(SETTINGS))
def test_what_argo_v4_1_writes_is_read_exactly(nodecompress: Path, nodes: Any,
                                               setting: tuple[str, str, str]) -> None:
    algorithm, level, impl = setting
    env = {"WORKFLOW_COMPRESSION_ALGORITHM": algorithm, "WORKFLOW_COMPRESSION_LEVEL": level,
           "GZIP_IMPLEMENTATION": impl}
    written = go(nodecompress, json.dumps(nodes).encode(), **env).decode()
    assert algorithm_of(base64.b64decode(written)) == algorithm
    assert decode_compressed_nodes(written) == nodes


@pytest.mark.parametrize("algorithm", ["gzip", "zstd", "brotli"])
def test_a_large_node_status_is_read_whatever_the_codec(nodecompress: Path,
                                                        algorithm: str) -> None:
    """3 MB of node JSON: pgzip cuts it into several blocks, zstd into several."""
    nodes = {f"wf-{i:07d}": {"id": f"wf-{i:07d}", "displayName": f"step-{i}",
                             "phase": "Succeeded", "type": "Pod", "boundaryID": "wf"}
             for i in range(30_000)}
    written = go(nodecompress, json.dumps(nodes).encode(),
                 WORKFLOW_COMPRESSION_ALGORITHM=algorithm).decode()
    assert decode_compressed_nodes(written) == nodes


def test_a_wait_orch_releases_in_a_large_workflow_is_read_by_argo(nodecompress: Path) -> None:
    """The node set by orch and re-compressed (the Workflow is over Argo's size
    limit) decodes with Argo's reader to the same nodes orch meant."""
    nodes: dict[str, Any] = {f"wf-{i}": {"id": f"wf-{i}", "phase": "Succeeded",
                                         "type": "Pod", "message": "é" * 40}
                             for i in range(400)}
    nodes["gate"] = {"id": "gate", "type": "Suspend", "phase": "Running",
                     "displayName": "approve"}
    written = go(nodecompress, json.dumps(nodes).encode(),
                 WORKFLOW_COMPRESSION_ALGORITHM="zstd").decode()
    wf = {"metadata": {"name": "wf", "labels": {}}, "spec": {},
          "status": {"phase": "Running", "compressedNodes": written}}
    out = set_suspend_node(wf, "gate", "Succeeded", "approved", "2026-01-01T00:00:00Z",
                           max_size=10_000)
    assert "nodes" not in out["status"]
    read = json.loads(go(nodecompress, out["status"]["compressedNodes"].encode(), "-d"))
    assert read == {**nodes, "gate": {**nodes["gate"], "phase": "Succeeded",
                                      "message": "approved",
                                      "finishedAt": "2026-01-01T00:00:00Z"}}
