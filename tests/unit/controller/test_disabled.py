"""A disabled controller (contract §6) stays up, serves its probes and metrics,
reconciles nothing (it never even reads a kubeconfig), and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return int(r.status), r.read().decode()
    except OSError:
        return 0, ""


def test_disabled_controller_serves_probes_and_exits_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "JANGAR_ORCHESTRATION_CONTROLLER_ENABLED": "0",
           "ORCH_HTTP_PORT": str(port), "KUBECONFIG": str(tmp_path / "absent")}
    proc = subprocess.Popen([sys.executable, "-m", "controller"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while get(f"http://127.0.0.1:{port}/readyz")[0] != 200:
            assert proc.poll() is None, proc.communicate()[0].decode()
            assert time.monotonic() < deadline, "never ready"
            time.sleep(0.05)
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
        code, metrics = get(f"http://127.0.0.1:{port}/metrics")
        assert code == 200 and "controller_runtime_reconcile_total" in metrics
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert b"controller disabled" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
