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
        [sys.executable, "-m", "operate", "compile", "-o", fmt, *map(str, files)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2])
    names = kubectl_create_dry_run(cluster, compiled.stdout)
    assert len(names) == 2 and all(n.startswith("workflow.argoproj.io/") for n in names), names


# --- kubectl's words for our kinds (contract §1) ----------------------------------

def kubectl(cluster: Cluster, *args: str, namespace: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cluster.bin_dir / "kubectl"), "--kubeconfig", str(cluster.kubeconfig),
         "-n", namespace or cluster.namespace, *args],
        capture_output=True, text=True, timeout=60, check=False)


def test_kubectl_orchestration_means_orchestrations_only(cluster: Cluster) -> None:
    """`kubectl get|delete orchestration` resolves to Orchestrations, never to runs:
    a category named `orchestration` made kubectl expand the word to both kinds, so
    `delete orchestration --all` deleted every run too (issue 21)."""
    ns = "kubectl-words"
    kubectl(cluster, "create", "namespace", ns)
    api = "orchestration.proompteng.ai/v1alpha1"
    cluster.apply_yaml(f"""
apiVersion: {api}
kind: Orchestration
metadata: {{name: diamond}}
spec:
  steps: [{{name: a, kind: Checkpoint}}]
---
apiVersion: {api}
kind: OrchestrationRun
metadata: {{name: diamond-r1}}
spec: {{orchestrationRef: {{name: diamond}}}}
""", ns)
    got = kubectl(cluster, "get", "orchestration", "diamond", "-o", "name", namespace=ns)
    assert (got.returncode, got.stdout, got.stderr) == (
        0, "orchestration.orchestration.proompteng.ai/diamond\n", "")
    deleted = kubectl(cluster, "delete", "orchestration", "--all", "--dry-run=server",
                      "-o", "name", namespace=ns)
    assert (deleted.returncode, deleted.stdout) == (
        0, "orchestration.orchestration.proompteng.ai/diamond\n"), deleted.stderr
    runs = kubectl(cluster, "get", "orchestrationrun", "-o", "name", namespace=ns)
    assert runs.stdout == "orchestrationrun.orchestration.proompteng.ai/diamond-r1\n"
    # The category groups both, under a word that is no kind's name.
    both = kubectl(cluster, "get", "orch", "-o", "name", namespace=ns)
    assert sorted(both.stdout.split()) == [
        "orchestration.orchestration.proompteng.ai/diamond",
        "orchestrationrun.orchestration.proompteng.ai/diamond-r1"], both.stderr


def test_our_words_collide_with_no_served_resource(cluster: Cluster) -> None:
    """Names, short names and categories of our two kinds against every other
    resource the cluster serves (built-in kinds, Argo's, the reference's)."""
    listed = kubectl(cluster, "api-resources", "-o", "wide")
    assert listed.returncode == 0, listed.stderr
    ours: dict[str, set[str]] = {}
    theirs: set[str] = set()
    header, *rows = listed.stdout.splitlines()
    columns = [header.index(c) for c in ("NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED",
                                         "KIND", "VERBS", "CATEGORIES")]
    for line in rows:
        cells = [line[a:b].strip() for a, b in zip(columns, [*columns[1:], None], strict=True)]
        name, short, group_version, kind, categories = (cells[0], cells[1], cells[2],
                                                        cells[4], cells[6])
        words = {name, kind.lower(), *short.split(","), *categories.split(",")} - {""}
        if group_version.startswith("orchestration.proompteng.ai/"):
            ours[kind] = words
        else:
            theirs |= words
    assert set(ours) == {"Orchestration", "OrchestrationRun"}
    assert not (ours["Orchestration"] | ours["OrchestrationRun"]) & theirs
    # Between the two kinds only the shared category: no word of one names the other.
    assert ours["Orchestration"] & ours["OrchestrationRun"] == {"orch"}
