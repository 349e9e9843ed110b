"""Where the cluster's binaries live, and building them when they are missing.

Why: the e2e fixture must either run against the real components or skip with
the exact reason; it must never pass silently. `tools/build.sh` owns the pins
and the cache layout; this module only asks it for the bin dir and runs it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "tools" / "build.sh"
BINARIES = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "etcd",
    "etcdctl",
    "kwok",
    "workflow-controller",
    "argo",
    "argo-v3.6",
    "helm",
    "kubectl",
    "yamlread",
)


class ToolsUnavailableError(RuntimeError):
    """The binaries are not built and could not be built; the message says why."""


def bin_dir() -> Path:
    """The versioned bin dir `tools/build.sh` builds into (built or not)."""
    override = os.environ.get("ORCH_TOOLS_BIN")
    if override:
        return Path(override)
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-bin-dir"],
        check=True, capture_output=True, text=True,
    )
    return Path(out.stdout.strip())


def share_dir(directory: Path) -> Path:
    """CRDs and kwok Stages copied from the modules the binaries came from."""
    return directory.parent / "share"


def missing(directory: Path) -> list[str]:
    """Binaries (and the share dir's stamp) absent from `directory`."""
    absent = [b for b in BINARIES if not os.access(directory / b, os.X_OK)]
    if not (share_dir(directory) / "versions.env").is_file():
        absent.append("../share/versions.env")
    return absent


def ensure_tools(build: bool = True) -> Path:
    """The bin dir with every binary in it; runs `tools/build.sh` when some are
    missing and `build` is true. Raises ToolsUnavailableError with the reason."""
    directory = bin_dir()
    absent = missing(directory)
    if not absent:
        return directory
    if not build:
        raise ToolsUnavailableError(
            f"missing in {directory}: {', '.join(absent)} (run tools/build.sh)")
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ToolsUnavailableError(f"tools/build.sh failed (exit {proc.returncode}):\n{tail}")
    absent = missing(directory)
    if absent:
        raise ToolsUnavailableError(
            f"tools/build.sh left missing in {directory}: {', '.join(absent)}")
    return directory
