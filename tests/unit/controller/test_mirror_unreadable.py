"""A run whose Workflow's compressed node status cannot be read (corrupt, or a bomb
past the decoder's bounds, issue 22: tests/unit/compiler/test_compressed.py)
keeps its step statuses as last seen and says why, as for an offloaded one; it is
never a crash of the reconcile."""

from __future__ import annotations

import base64
import gzip

import pytest

from controller.mirror import mirror_workflow
from controller.suspend import NodeUpdateError, hydrated_nodes
from controller.waits import workflow_waits
from tests.unit.controller.helpers import compiled, container, with_status

NOW = "2026-01-01T00:02:00Z"
CORRUPT = base64.b64encode(gzip.compress(b'{"a": {}}')[:-9]).decode()  # truncated


def test_an_unreadable_node_status_is_a_condition_and_the_steps_stay_as_seen() -> None:
    wf = with_status(compiled([container("a"), container("b", ["a"])]), "Running", [])
    wf["status"].pop("nodes", None)
    wf["status"]["compressedNodes"] = CORRUPT
    previous = {"stepStatuses": [{"name": "a", "kind": "Container", "phase": "Succeeded"},
                                 {"name": "b", "kind": "Container", "phase": "Running"}]}
    mirror = mirror_workflow(wf, previous, NOW)
    assert [(s["name"], s["phase"]) for s in mirror.step_statuses] == [
        ("a", "Succeeded"), ("b", "Running")]
    available = {c.type: c for c in mirror.conditions}["NodeStatusAvailable"]
    assert (available.status, available.reason) == ("False", "NodeStatusUnreadable")
    assert "gzip data is truncated" in available.message
    ended = dict(wf, status={**wf["status"], "phase": "Failed"})
    assert mirror_workflow(ended, previous, NOW).phase == "Failed"


def test_an_unreadable_node_status_holds_no_wait_and_cannot_be_written() -> None:
    wf = with_status(compiled([container("a")]), "Running", [])
    wf["status"] = {"phase": "Running", "compressedNodes": "bm90IGd6aXA="}  # "not gzip"
    assert workflow_waits(wf) == []
    with pytest.raises(NodeUpdateError, match="cannot be read"):
        hydrated_nodes(wf["status"])
