"""What `orch get` and `orch watch` load: neither pydantic (the compiler's models)
nor the official kubernetes client, whose imports alone cost more than half of
the 0.5 s a cold `orch get` may take."""

from __future__ import annotations

import subprocess
import sys


def test_the_get_and_watch_paths_load_no_models_and_no_kubernetes_client() -> None:
    probe = ("import sys, operate.cli, operate.commands, operate.cluster, operate.client, "
             "operate.kubeconfig, operate.view, operate.render, operate.live, "
             "operate.terminal, operate.follow, compiler.compiled; "
             "print(sorted(m for m in ('pydantic', 'orchapi.models', 'kubernetes', "
             "'controller') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
