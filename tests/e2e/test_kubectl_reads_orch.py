"""kubectl reads what `orch compile` prints, in both formats: several Workflows
as JSON are a `v1` `List` (a bare JSON array is refused by kubectl), and the
YAML, read by kubectl's own go-yaml, keeps a step named `y` a string."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster import Cluster
from tests.golden import VALID

pytestmark = pytest.mark.e2e


def kubectl_create_dry_run(cluster: Cluster, manifest: str) -> list[str]:
    """The objects the apiserver would create from `manifest` (server-side
    dry run: defaulting, the Workflow CRD's schema, admission; nothing stored)."""
    result = subprocess.run(
        [str(cluster.bin_dir / "kubectl"), "--kubeconfig", str(cluster.kubeconfig),
         "-n", cluster.namespace, "create", "--dry-run=server", "-o", "name", "-f", "-"],
        input=manifest, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_kubectl_creates_every_compiled_workflow(cluster: Cluster, fmt: str) -> None:
    files = [VALID / "go-yaml-scalars.yaml", VALID / "diamond.yaml"]
    compiled = subprocess.run(
        [sys.executable, "-m", "compiler.cli", "compile", "-o", fmt, *map(str, files)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2])
    names = kubectl_create_dry_run(cluster, compiled.stdout)
    assert len(names) == 2 and all(n.startswith("workflow.argoproj.io/") for n in names), names
