"""Child processes of the test cluster, and stopping every one of them.

Why: a test run must leave no process behind, also after a failed test, Ctrl-C
or SIGTERM. Each component runs in its own session (so a terminal's Ctrl-C
does not kill it before the harness stops it in order) and, when attached to
this Python process, with PR_SET_PDEATHSIG so even a SIGKILLed pytest takes
them down. Only processes started here are ever signalled, by their own pgid.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1
PIDS_FILE = "pids"  # in a work dir: its owner's pid, then every child's


def sweep_stale_dirs(parent: Path, prefix: str) -> list[Path]:
    """Remove work dirs left by a run that was SIGKILLed (its children died
    with it through PDEATHSIG, but nobody removed the dir): those whose pids
    file names no live process. Dirs without one, or with a `keep` file, stay."""
    removed = []
    for d in parent.glob(f"{prefix}*"):
        pids_file, keep = d / PIDS_FILE, d / "keep"
        if not pids_file.is_file() or keep.exists():
            continue
        pids = [int(x) for x in pids_file.read_text().split() if x.isdigit()]
        if pids and not any(_pid_alive(p) for p in pids):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Proc:
    """One started component: its name, process and log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Starts processes and stops them all, newest first."""

    def __init__(self, log_dir: Path, attached: bool = True) -> None:
        self.log_dir = log_dir
        self.attached = attached
        self.procs: list[Proc] = []
        self._pids = log_dir / PIDS_FILE
        self._pids.write_text(f"{os.getpid()}\n")

    def start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> Proc:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            preexec: Callable[[], None] | None = _die_with_parent if self.attached else None
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
                preexec_fn=preexec,  # prctl only: safe after fork
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        with self._pids.open("a") as f:
            f.write(f"{popen.pid}\n")
        return proc

    def stop_all(self, grace: float = 1.0) -> None:
        """SIGTERM every process group at once, wait up to `grace` seconds in
        all, then SIGKILL what is left and reap it. The grace is short on
        purpose: the cluster's state is thrown away, and workflow-controller
        and kube-apiserver take 5-10 s to shut down gracefully (measured)."""
        procs, self.procs = list(reversed(self.procs)), []
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(max(0.0, deadline - time.monotonic()))
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(2.0)


def stop_group(pgid: int, grace: float, wait: Callable[[float], object] | None = None) -> None:
    """Stop the process group `pgid` (a leader we started with start_new_session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if wait is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                wait(0.1)
                break
        elif not group_alive(pgid):
            break
        else:
            time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    if wait is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            wait(2.0)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
