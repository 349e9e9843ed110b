"""Fixtures for the e2e suite: the real cluster, once per session.

Why here: starting the cluster costs seconds and building its tools minutes, so
one session-scoped cluster serves every e2e test. When the tools are neither
built nor buildable the tests skip with the build's own error, never pass; under
CI=true that skip is a failure (tests/support/ci_skips.py), so a machine that
cannot build them gives a red run, not a green one without the cluster.

Exposed to tests:
- `cluster`: `tests.cluster.Cluster` (`.kubeconfig`, `.api_client`, `.kube`,
  `.bin_dir`, `.namespace`, `.env()`, `.apply_yaml()`, `.wait_for_workflow()`).
- `fail_pods`: `kwok.Failures` for this test, cleared after it
  (`.steps(orchestration, [step, ...])`, `.argo_tasks(workflow, [task, ...])`,
  `.pods(match_labels, match_annotations)`).
- `tools_bin`: the bin dir alone (argo lint needs no cluster).
Env: ORCH_E2E_BUILD=0 skips instead of running tools/build.sh when binaries are
missing; ORCH_CLUSTER_KEEP=1 keeps the temp dir (logs) after the session.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster, ToolsUnavailableError, ensure_tools
from tests.cluster.kwok import Failures
from tests.cluster.tools import share_dir


@pytest.fixture(scope="session")
def tools_bin() -> Path:
    try:
        return ensure_tools(build=os.environ.get("ORCH_E2E_BUILD", "1") != "0")
    except ToolsUnavailableError as e:
        pytest.skip(f"test cluster tools unavailable: {e}")


@pytest.fixture(scope="session")
def cluster(tools_bin: Path) -> Iterator[Cluster]:
    c = Cluster(tools_bin, share_dir(tools_bin), keep=os.environ.get("ORCH_CLUSTER_KEEP") == "1")
    c.install_exit_handlers()
    try:
        c.start()
    except BaseException:
        c.stop()
        raise
    print(f"\ntest cluster up: {c.kubeconfig} timings (s): {c.timings}", file=sys.stderr)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def fail_pods(cluster: Cluster) -> Iterator[Failures]:
    failures = cluster.failures()
    try:
        yield failures
    finally:
        failures.clear()
