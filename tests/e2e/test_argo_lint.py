"""Every golden Workflow passes `argo lint --offline`, at both ends of the
Argo range the contract promises (v3.6 and v4): the validation the Argo
server and controller run, without a cluster.

A golden whose input has `Template` steps references WorkflowTemplates;
offline lint resolves `templateRef`s only from the files it is given, so those
are linted together with `golden/workflowtemplates/*.yaml`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
OUTPUTS = sorted((GOLDEN / "valid").glob("*.argo.yaml"))
WORKFLOW_TEMPLATES = sorted((GOLDEN / "workflowtemplates").glob("*.yaml"))
ARGO_CLIS = ("argo", "argo-v3.6")


def uses_templates(output: Path) -> bool:
    source = output.with_name(output.name.removesuffix(".argo.yaml") + ".yaml")
    docs = list(yaml.safe_load_all(source.read_text())) if source.exists() else []
    has_kind = any(step.get("kind") == "Template" for d in docs if d
                   for step in (d.get("spec") or {}).get("steps") or [])
    return has_kind or "templateRef" in output.read_text()


def templates_for(output: Path, tmp_path: Path) -> list[Path]:
    """The WorkflowTemplate files, placed in the Workflow's namespace: they are
    namespace-agnostic (applied with -n) and offline lint resolves a
    `templateRef` only within the Workflow's namespace."""
    namespace = (yaml.safe_load(output.read_text()).get("metadata") or {}).get("namespace")
    if not namespace:
        return list(WORKFLOW_TEMPLATES)
    placed = []
    for source in WORKFLOW_TEMPLATES:
        docs = [d for d in yaml.safe_load_all(source.read_text()) if d]
        for d in docs:
            if d.get("kind") == "WorkflowTemplate":
                d.setdefault("metadata", {})["namespace"] = namespace
        target = tmp_path / source.name
        target.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        placed.append(target)
    return placed


@pytest.mark.parametrize("cli", ARGO_CLIS)
@pytest.mark.parametrize("output", OUTPUTS, ids=[p.name.removesuffix(".argo.yaml")
                                                   for p in OUTPUTS])
def test_golden_passes_argo_lint(tools_bin: Path, cli: str, output: Path,
                                 tmp_path: Path) -> None:
    files = [output, *(templates_for(output, tmp_path) if uses_templates(output) else [])]
    result = subprocess.run(
        [str(tools_bin / cli), "lint", "--offline", "--output", "simple",
         *map(str, files)],
        capture_output=True, text=True, timeout=60,
        env={"HOME": str(tmp_path), "KUBECONFIG": "/dev/null", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, f"{cli} lint --offline {output.name}:\n" + (
        result.stdout + result.stderr)
    assert "no linting errors found" in (result.stdout + result.stderr).lower(), result.stdout
