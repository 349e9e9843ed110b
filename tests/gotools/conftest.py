"""Tests that run the Go programs `tools/build.sh` builds, without a cluster.

Why a marker of its own (`gotools`): they need the built tools (so `make unit`
leaves them out) but no apiserver, and `make test` runs them. When the tools
are neither built nor buildable (no Go toolchain), they skip with the build's
own error, never pass; under CI=true that skip is a failure
(tests/support/ci_skips.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cluster import ToolsUnavailableError, ensure_tools


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.gotools)


@pytest.fixture(scope="session")
def go_bin() -> Path:
    try:
        return ensure_tools(build=os.environ.get("ORCH_E2E_BUILD", "1") != "0")
    except ToolsUnavailableError as e:
        pytest.skip(f"Go tools unavailable: {e}")
