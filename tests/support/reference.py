"""The reference system (proompteng/lab @6b69af37) as a test input, read at test
time and never copied into this repository: its git mirror (the controller's
source, its live Orchestrations under argocd/applications/), the copies of its
CRDs and documents in ../shared/reference/, and its own reading functions run
under node as an oracle (tests/js/reference/oracle.mjs).

Every helper returns None (or skips) when its input is absent, with the reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.golden import ROOT
from tests.support.argo import SHARED, SHARED_ABSENT

COMMIT = "6b69af37f6"
# Where a clone of proompteng/lab may be, first found wins: ORCH_REFERENCE_MIRROR,
# the cache `make reference` fills (outside the repo, keyed by the commit, so a
# clean clone of orch on this machine finds it), a mirror beside ../shared.
CACHED_MIRROR = Path.home() / f".cache/orch-reference/proompteng+lab-{COMMIT}"
_CANDIDATES = [Path(p) for p in [os.environ.get("ORCH_REFERENCE_MIRROR")] if p] + [
    CACHED_MIRROR, SHARED.resolve().parent / ".mirror/proompteng+lab/repo"]
MIRROR = next((p for p in _CANDIDATES if p.exists()), _CANDIDATES[0])
MIRROR_ABSENT = (f"the proompteng/lab mirror is absent (looked in "
                 f"{', '.join(map(str, _CANDIDATES))}; `make reference` clones it, or set "
                 f"ORCH_REFERENCE_MIRROR to a clone holding {COMMIT})")
CONTROLLER = "services/agents/src/server/orchestration-controller.ts"
PRIMITIVES = "services/agents/src/server/primitives.ts"
ORACLE_DIR = ROOT / "tests/js/reference"
ORACLE_ABSENT = ("node or tests/js/reference/node_modules missing "
                 "(npm ci --prefix tests/js/reference)")
JANGAR = SHARED / "reference/jangar"
AGENTRUN_CRD = "charts/agents/crds/agents.proompteng.ai_agentruns.yaml"


def _git(*args: str) -> str | None:
    if not MIRROR.exists():
        return None
    found = subprocess.run(["git", "-C", str(MIRROR), *args], capture_output=True, text=True,
                           timeout=60)
    return found.stdout if found.returncode == 0 else None


@cache
def mirror_file(path: str) -> str | None:
    """A file of the reference at COMMIT, or None without the mirror."""
    return _git("show", f"{COMMIT}:{path}")


def require_mirror_file(path: str) -> str:
    text = mirror_file(path)
    if text is None:
        pytest.skip(MIRROR_ABSENT)
    return text


@cache
def mirror_orchestrations() -> list[tuple[str, dict[str, Any]]]:
    """Every Orchestration document under the reference's argocd/applications/."""
    listed = _git("ls-tree", "-r", "--name-only", COMMIT, "argocd/applications")
    found: list[tuple[str, dict[str, Any]]] = []
    for path in (listed or "").split():
        if not path.endswith((".yaml", ".yml")):
            continue
        text = mirror_file(path) or ""
        if "kind: Orchestration" not in text:
            continue
        found += [(f"lab:{path}", d) for d in _documents(text) if _is_orchestration(d)]
    return found


def shared_orchestrations() -> list[tuple[str, dict[str, Any]]]:
    """Every Orchestration document in ../shared/reference/jangar/."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(JANGAR.rglob("*.yaml")) if JANGAR.exists() else ():
        if "templates" in path.parts:
            continue
        found += [(str(path.relative_to(SHARED)), d) for d in _documents(path.read_text())
                  if _is_orchestration(d)]
    return found


def _documents(text: str) -> list[Any]:
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        return []  # Helm templates and the like


def _is_orchestration(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("kind") == "Orchestration" and str(
        doc.get("apiVersion", "")).startswith("orchestration.proompteng.ai/")


def agentrun_crds() -> list[tuple[str, dict[str, Any]]]:
    """The AgentRun CRD of the mirror (at COMMIT) and of ../shared, as found."""
    found = []
    text = mirror_file(AGENTRUN_CRD)
    if text is not None:
        found.append(("lab", yaml.safe_load(text)))
    shared = JANGAR / AGENTRUN_CRD
    if shared.exists():
        found.append(("shared", yaml.safe_load(shared.read_text())))
    return found


def skip_without_inputs() -> None:
    if not MIRROR.exists() and not JANGAR.exists():
        pytest.skip(f"{MIRROR_ABSENT}; {SHARED_ABSENT}")


def require_mirror() -> None:
    """Skip when there is no mirror at all: a mirror that lacks a file the tests
    name is a failure, an absent one an outside input (tests/support/ci_skips.py)."""
    if not MIRROR.exists():
        pytest.skip(MIRROR_ABSENT)


def expected_agent_runs() -> int:
    """AgentRun steps the inputs at hand hold: two in the mirror's codex
    Orchestrations, two in ../shared's primitives (counted, so a reader that
    drops documents fails)."""
    return (2 if MIRROR.exists() else 0) + (2 if JANGAR.exists() else 0)


def oracle(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the reference's own code builds for each case (tests/js/reference/
    oracle.mjs): `{"value": ...}` or `{"error": message}`. Skips without node, the
    oracle's TypeScript or the mirror."""
    controller, primitives = require_mirror_file(CONTROLLER), require_mirror_file(PRIMITIVES)
    if shutil.which("node") is None or not (ORACLE_DIR / "node_modules/typescript").is_dir():
        pytest.skip(ORACLE_ABSENT)
    payload = {"controller": controller, "primitives": primitives, "cases": cases}
    done = subprocess.run(["node", str(ORACLE_DIR / "oracle.mjs")], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results
