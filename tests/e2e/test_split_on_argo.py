"""A run split into several DAGs and Workflows (contract §8) at 500, 2,000 and
10,000 steps passes what Argo checks: `argo lint --offline` (v4 and v3.6) and the
CEL rules and bounds of Argo v4's full CRDs (200 templates, 200 tasks per DAG,
names of 128), on the real apiserver.

Why the full CRDs under another API group: the test cluster installs Argo's minimal
CRDs (its controller needs them as `argoproj.io`), and the full ones carry the
same names. Installed again with the group renamed, they judge the same objects
with the same schema and rules; a server-side dry-run runs the whole admission,
CEL included, and stores nothing. Both the cluster's Argo (v4.0.5) and the
contract's reference (v4.1.2, ../shared) are checked.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from compiler.diagnostics import Collector
from compiler.emit_run import CompiledRun, emit_run
from orchapi.api import Obj
from tests.cluster import Cluster
from tests.cluster.tools import share_dir
from tests.support.big import big_orchestration, big_run
from tests.support.crds import installed, renamed

pytestmark = pytest.mark.e2e

REFERENCE_FULL = Path(__file__).resolve().parents[3] / "shared" / "reference" / "argo" / \
    "manifests" / "base" / "crds" / "full" / "argoproj.io_workflows.yaml"
SIZES = (500, 2000, 10_000)


@pytest.fixture(scope="module", params=SIZES, ids=[f"{n}-steps" for n in SIZES])
def split(request: pytest.FixtureRequest) -> CompiledRun:
    n: int = request.param
    out = Collector()
    compiled = emit_run(big_orchestration(n), big_run(n), out)
    assert not [d for d in out.items if d.is_error], out.items
    assert compiled.is_split and compiled.plan is not None
    assert sum(len(p.steps) for p in compiled.plan.parts) == n
    return compiled


@pytest.mark.parametrize("cli", ("argo", "argo-v3.6"))
def test_split_workflows_pass_argo_lint(tools_bin: Path, split: CompiledRun, cli: str,
                                        tmp_path: Path) -> None:
    files = []
    for i, workflow in enumerate(split.workflows):
        path = tmp_path / f"workflow-{i}.json"
        path.write_text(json.dumps(workflow))
        files.append(str(path))
    result = subprocess.run(
        [str(tools_bin / cli), "lint", "--offline", "--output", "simple", *files],
        capture_output=True, text=True, timeout=600,
        env={"HOME": str(tmp_path), "KUBECONFIG": "/dev/null", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no linting errors found" in (result.stdout + result.stderr).lower()


def full_crd_sources(tools_bin: Path) -> list[tuple[str, Path]]:
    sources = [("v4-0-5", share_dir(tools_bin) / "argo-crds" / "full" /
                "argoproj.io_workflows.yaml")]
    if REFERENCE_FULL.is_file():
        sources.append(("v4-1-2", REFERENCE_FULL))
    return sources


@pytest.fixture(scope="module")
def full_crds(cluster: Cluster, tools_bin: Path) -> Iterator[list[str]]:
    """Argo's full Workflow CRDs, each under its own API group; their groups."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crds = {f"full-{label}.argoproj.test": yaml.load(path.read_text(), Loader=loader)
            for label, path in full_crd_sources(tools_bin)}
    with installed(cluster.api_client, [renamed(c, g) for g, c in crds.items()]):
        yield list(crds)


def test_split_workflows_pass_the_full_crds(cluster: Cluster, full_crds: list[str],
                                            split: CompiledRun) -> None:
    for group in full_crds:
        res = cluster.kube.resource(f"{group}/v1alpha1", "Workflow")
        for workflow in split.workflows:
            body = copy.deepcopy(workflow)
            body["apiVersion"] = f"{group}/v1alpha1"
            created = res.create(body=body, namespace=cluster.namespace,
                                 query_params=[("dryRun", "All")]).to_dict()
            assert created["metadata"]["name"] == workflow["metadata"]["name"]
            assert len(created["spec"]["templates"]) == len(workflow["spec"]["templates"])


def test_the_full_crds_refuse_what_one_workflow_cannot_hold(
        cluster: Cluster, full_crds: list[str]) -> None:
    """The premise: a DAG of 201 tasks is what the full CRDs refuse (so the
    acceptance above means something)."""
    workflow: Obj = {"metadata": {"name": "too-many-tasks"}, "spec": {
        "entrypoint": "main", "templates": [
            {"name": "main", "dag": {"tasks": [{"name": f"t{i}", "template": "noop"}
                                               for i in range(201)]}},
            {"name": "noop", "suspend": {"duration": "0"}}]}}
    for group in full_crds:
        res = cluster.kube.resource(f"{group}/v1alpha1", "Workflow")
        with pytest.raises(client.exceptions.ApiException) as caught:
            res.create(body={"apiVersion": f"{group}/v1alpha1", "kind": "Workflow", **workflow},
                       namespace=cluster.namespace, query_params=[("dryRun", "All")])
        assert "must have at most 200 items" in (caught.value.body or "")
