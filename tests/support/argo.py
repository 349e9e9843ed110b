"""Where Argo's own definitions of a Workflow come from in a test run: its JSON
schema and CRDs from ../shared (when present), its CRDs from the Go module cache
(the test cluster's build brings them), and hera's models (always installed)."""

from __future__ import annotations

import glob
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.golden import ROOT

SHARED = ROOT.parent / "shared"
SHARED_ABSENT = f"{SHARED} is absent (a fresh clone has no ../shared/)"
ARGO_SCHEMA = SHARED / "reference/argo/api/jsonschema/schema.json"
WORKFLOW_DEF = "io.argoproj.workflow.v1alpha1.Workflow"


@cache
def argo_json_schema() -> dict[str, Any] | None:
    if not ARGO_SCHEMA.exists():
        return None
    schema: dict[str, Any] = json.loads(ARGO_SCHEMA.read_text())
    return {"$ref": f"#/definitions/{WORKFLOW_DEF}", "definitions": schema["definitions"]}


def workflow_crd_paths() -> list[Path]:
    """Every full Workflow CRD available: ../shared's v4.1.2 and the module cache's."""
    modcache = os.environ.get("GOMODCACHE") or str(Path.home() / "go/pkg/mod")
    pattern = "github.com/argoproj/argo-workflows/v*@v*/manifests/base/crds/full/"
    found = sorted(Path(p) for p in glob.glob(f"{modcache}/{pattern}argoproj.io_workflows.yaml"))
    shared = SHARED / "reference/argo/manifests/base/crds/full/argoproj.io_workflows.yaml"
    return ([shared] if shared.exists() else []) + found


@cache
def crd_schema(path: Path) -> dict[str, Any]:
    crd = yaml.safe_load(path.read_text())
    version = next(v for v in crd["spec"]["versions"] if v.get("storage", True))
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def jangar_documents(kind: str) -> list[Path]:
    """Files under ../shared/reference/jangar holding a document of `kind`."""
    base = SHARED / "reference/jangar"
    out = []
    for path in sorted(base.rglob("*.yaml")):
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue
        if any(isinstance(d, dict) and d.get("kind") == kind for d in docs):
            out.append(path)
    return out
