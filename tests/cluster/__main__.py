"""`python -m tests.cluster up|down|env`: the e2e cluster for a shell session.

Why: developers (and the controller's manual runs) want the same cluster the
tests get, without pytest. `up` starts it detached and records what it started
in a state file; `down` stops exactly those processes (checked by executable
path, so a recycled PID is never signalled) and removes the temp dir; `env`
prints the variables to use it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from tests.cluster.cluster import Cluster
from tests.cluster.procs import stop_group
from tests.cluster.tools import ToolsUnavailableError, ensure_tools, share_dir


def state_file() -> Path:
    return Path(os.environ.get("ORCH_CLUSTER_STATE", "/tmp/orch-cluster-state.json"))


def load_state() -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(state_file().read_text())
    except FileNotFoundError:
        return None
    return data


def is_ours(pid: int, bin_dir: str) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/exe").startswith(bin_dir.rstrip("/") + "/")
    except OSError:
        return False


def cmd_up(foreground: bool) -> int:
    old = load_state()
    if old and any(is_ours(p["pid"], old["bin_dir"]) for p in old["processes"]):
        print(f"already up: {old['kubeconfig']} (run `down` first)", file=sys.stderr)
        return 1
    try:
        bin_dir = ensure_tools()
    except ToolsUnavailableError as e:
        print(f"cannot start: {e}", file=sys.stderr)
        return 1
    cluster = Cluster(bin_dir, share_dir(bin_dir), attached=foreground)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    state_file().write_text(json.dumps(cluster.state(), indent=2))
    print(cluster.kubeconfig)
    print(f"timings (s): {cluster.timings}", file=sys.stderr)
    if not foreground:
        return 0
    cluster.install_exit_handlers()
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    cluster.stop()
    state_file().unlink(missing_ok=True)
    return 0


def cmd_down() -> int:
    state = load_state()
    if state is None:
        print("not up", file=sys.stderr)
        return 0
    for proc in reversed(state["processes"]):
        if is_ours(proc["pid"], state["bin_dir"]):
            stop_group(proc["pid"], grace=5.0)
    shutil.rmtree(state["work_dir"], ignore_errors=True)
    state_file().unlink(missing_ok=True)
    return 0


def cmd_env() -> int:
    state = load_state()
    if state is None:
        print("not up", file=sys.stderr)
        return 1
    for key, value in (("KUBECONFIG", state["kubeconfig"]), ("ORCH_TOOLS_BIN", state["bin_dir"]),
                       ("ORCH_E2E_NAMESPACE", state["namespace"])):
        print(f"export {key}={shlex.quote(value)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the cluster, print the kubeconfig path")
    up.add_argument("--foreground", action="store_true", help="stay up until Ctrl-C")
    sub.add_parser("down", help="stop what `up` started and remove its temp dir")
    sub.add_parser("env", help="print shell exports for the running cluster")
    args = parser.parse_args(argv)
    if args.command == "up":
        return cmd_up(args.foreground)
    if args.command == "down":
        return cmd_down()
    return cmd_env()


if __name__ == "__main__":
    sys.exit(main())
