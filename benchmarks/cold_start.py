"""The small end of issue #19 point 6: a cold `orch compile` of a small file
against a bare `python -c pass` of the same interpreter, in one run.

The two take turns (compile, bare, compile, bare, ...) after one untimed run of
each, so a load that comes and goes weighs on both alike; the ratio is taken
pair by pair and its median quoted with its range, on CPU time (user + system,
which a busy machine inflates less than wall time) and on wall time.

    python -m benchmarks.cold_start [--runs 21] [FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "golden" / "valid" / "diamond.yaml"
TARGET = 5.0


# The installed `orch` script; else the same entry point through the interpreter.
ORCH = [sys.executable, "-m", "operate"]


def orch_command() -> list[str]:
    script = Path(sys.executable).parent / "orch"
    return [str(script)] if script.exists() else ORCH


def compile_bytecode() -> None:
    """Byte-compile orch's own modules first, as `pip install .` and the image
    do: where PYTHONDONTWRITEBYTECODE is set (this machine sets it) or the
    checkout is read-only, a fresh process otherwise compiles every module it
    imports from source, and a cold start measures the compiler instead of orch
    (30-40 ms here, more for a command whose modules were added since)."""
    import compileall

    root = Path(__file__).resolve().parents[1]
    for package in ("orchapi", "compiler", "controller", "operate"):
        compileall.compile_dir(str(root / package), quiet=1)


def _one(cmd: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    assert os.waitstatus_to_exitcode(status) == 0, cmd
    return usage.ru_utime + usage.ru_stime, wall


def measure(path: Path = SMALL, runs: int = 21) -> dict[str, list[float]]:
    """Each figure of every counted pair: compile and bare CPU and wall seconds,
    and their ratios."""
    compile_cmd = [*orch_command(), "compile", str(path)]
    bare_cmd = [sys.executable, "-c", "pass"]
    _one(compile_cmd)
    _one(bare_cmd)
    out: dict[str, list[float]] = {k: [] for k in (
        "compile cpu", "compile wall", "bare cpu", "bare wall", "ratio cpu", "ratio wall")}
    for _ in range(runs):
        c_cpu, c_wall = _one(compile_cmd)
        b_cpu, b_wall = _one(bare_cmd)
        out["compile cpu"].append(c_cpu)
        out["compile wall"].append(c_wall)
        out["bare cpu"].append(b_cpu)
        out["bare wall"].append(b_wall)
        out["ratio cpu"].append(c_cpu / b_cpu if b_cpu else float("inf"))
        out["ratio wall"].append(c_wall / b_wall)
    return out


def row(figures: dict[str, list[float]], path: Path = SMALL) -> tuple[str, float, str, bool]:
    """The `make bench` row: median compile wall time, the ratios and the target."""
    def span(key: str, unit: float = 1.0, digits: int = 3) -> str:
        v = figures[key]
        return (f"{statistics.median(v) * unit:.{digits}f} "
                f"({min(v) * unit:.{digits}f}-{max(v) * unit:.{digits}f})")
    ratio = statistics.median(figures["ratio cpu"])
    runs = len(figures["ratio cpu"])
    return (f"orch compile of {path.name}, cold, against python -c pass in turn ({runs} pairs; "
            f"CPU s compile {span('compile cpu')}, bare {span('bare cpu')}; "
            f"ratio CPU {span('ratio cpu', digits=2)}, wall {span('ratio wall', digits=2)})",
            statistics.median(figures["compile wall"]),
            f"<= {TARGET:.0f}x python -c pass ({ratio:.2f}x)", ratio <= TARGET)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("file", nargs="?", type=Path, default=SMALL)
    args = parser.parse_args()
    compile_bytecode()
    figures = measure(args.file, args.runs)
    name, seconds, target, ok = row(figures, args.file)
    print(f"{time.strftime('%Y-%m-%d %H:%M')} load {os.getloadavg()[0]:.1f} "
          f"cores {os.cpu_count()}")
    print(f"| {name} | {seconds:.3f} s | {target} | {'met' if ok else 'MISSED'} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
