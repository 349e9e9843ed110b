"""`orch` as a user runs it from a shell, for the e2e tests: the one place that
says which binary and which environment.

Output goes to a pipe, so it is never coloured or cut to a width
(`operate/terminal.py`): the caller's COLUMNS or NO_COLOR change nothing, and no
test sets them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cluster import Cluster

BIN = Path(sys.executable).parent
ORCH = str(BIN / "orch")


def orch_as(kubeconfig: Path | None, *args: str, stdin: str | None = None,
            timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """`orch ARGS` with this kubeconfig (None: the caller's, for offline commands)
    and any extra environment variables."""
    full = {**os.environ, **env}
    if kubeconfig is not None:
        full["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run([ORCH, *args], input=stdin, capture_output=True, text=True,
                          env=full, timeout=timeout)


def orch(cluster: Cluster, *args: str, stdin: str | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`orch ARGS -n NAMESPACE` against the test cluster's namespace."""
    return orch_as(cluster.kubeconfig, *args, "-n", cluster.namespace, stdin=stdin,
                   timeout=timeout)
