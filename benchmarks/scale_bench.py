"""Speed at 10,000 steps (contract §7, §8; issue #19 point 7), each ratio measured
in one run:

- compile in-process, from Orchestration YAML text to the Workflows' YAML text,
  with the collector paused as `orch compile` runs it: 10,000 steps (split into
  several DAGs and Workflows) against 200 (one DAG). Runs interleave (ten of 200,
  one of 10,000, five times) and each size keeps its fastest CPU time, so a load
  that comes and goes weighs on neither; the per-step cost of each stage shows
  where a ratio above 50 comes from; and 10,000 steps compiled as one DAG
  (Argo's limits lifted: no split), against the same 200, which shows the
  emission linear and the rest of the ratio the split's own work;
- `orch validate` and `orch plan` of a 10,000-step file, cold (a fresh process
  after one untimed run, median of 5), against `orch compile` of a 10-step file:
  CPU time, which a busy machine does not inflate.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.inputs import orchestration_yaml

SMALL, LARGE = 200, 10_000
UNSPLIT = -LARGE  # the key of 10,000 steps compiled as one DAG


def compile_stages(text: str, split: bool = True) -> tuple[float, float, float]:
    """CPU seconds of parsing (and validating), compiling and rendering one file
    (`split` False: Argo's limits lifted, every step in one DAG)."""
    from compiler.emit_run import emit_run
    from compiler.gcpause import paused_gc
    from compiler.inputs import parse_text
    from compiler.limits import ARGO_LIMITS, ArgoLimits
    from compiler.render import to_yaml

    limits = ARGO_LIMITS if split else ArgoLimits(tasks=10 ** 9, templates=10 ** 9,
                                                   bytes=10 ** 12)
    with paused_gc():
        start = time.process_time()
        parsed = parse_text(text, "bench.yaml")
        ((_, orch),) = parsed.orchestrations
        parsed_at = time.process_time()
        compiled = emit_run(orch, limits=limits)
        compiled_at = time.process_time()
        to_yaml(compiled.workflows)
        return parsed_at - start, compiled_at - parsed_at, time.process_time() - compiled_at


def bench_compile_ratio(rounds: int = 5) -> dict[int, tuple[float, float, float]]:
    """The fastest (parse, compile, render) CPU seconds of each size, interleaved."""
    import operate.cli  # noqa: F401  (imports stay outside the timing)

    texts = {n: orchestration_yaml(n) for n in (SMALL, LARGE)}
    best: dict[int, tuple[float, float, float]] = {}

    def run(n: int) -> None:
        stages = compile_stages(texts[abs(n)], split=n > 0)
        if n not in best or sum(stages) < sum(best[n]):
            best[n] = stages

    run(SMALL)
    run(LARGE)  # untimed: warm
    best.clear()
    for _ in range(rounds):
        for _ in range(10):
            run(SMALL)
        run(LARGE)
        run(UNSPLIT)
    return best


def _cpu(cmd: list[str]) -> float:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, cmd
    return usage.ru_utime + usage.ru_stime


def bench_cold_commands(tmp: Path, orch: list[str], runs: int = 5) -> dict[str, float]:
    """Median CPU seconds of cold `orch validate`/`plan` of 10,000 steps and
    `orch compile` of 10, the commands taking turns."""
    big, small = tmp / "big.yaml", tmp / "small.yaml"
    big.write_text(orchestration_yaml(LARGE))
    small.write_text(orchestration_yaml(10))
    cmds: dict[str, list[str]] = {
        "compile 10": [*orch, "compile", str(small)],
        "validate 10,000": [*orch, "validate", str(big)],
        "plan 10,000": [*orch, "plan", str(big)],
    }
    for cmd in cmds.values():
        _cpu(cmd)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(runs):
        for k, cmd in cmds.items():
            times[k].append(_cpu(cmd))
    return {k: statistics.median(v) for k, v in times.items()}


Row = tuple[str, float, str, bool]


def rows(tmp: Path, orch: list[str], report: Callable[[str], None] = print) -> list[Row]:
    best = bench_compile_ratio()
    small, large = sum(best[SMALL]), sum(best[LARGE])
    ratio = large / small
    unsplit = sum(best[UNSPLIT])
    per_step = {n: ", ".join(f"{what} {t / abs(n) * 1e6:.0f}" for what, t in
                             zip(("parse", "compile", "render"), best[n], strict=True))
                for n in best}
    report(f"per step (us): {SMALL} steps: {per_step[SMALL]}; {LARGE:,} steps: "
           f"{per_step[LARGE]}; {LARGE:,} steps as one DAG: {per_step[UNSPLIT]}")
    out: list[Row] = [
        (f"compile {SMALL}-step DAG in-process, YAML to YAML (fastest CPU of 50)", small, "",
         True),
        (f"compile {LARGE:,} steps in-process (split), YAML to YAML (fastest CPU of 5)",
         large, f"<= 50x {SMALL} steps' ({ratio:.1f}x)", ratio <= 50),
        (f"compile {LARGE:,} steps in-process as one DAG (Argo's limits lifted; fastest CPU "
         f"of 5)", unsplit, f"linear: {unsplit / small:.1f}x {SMALL} steps'", True),
    ]
    cold = bench_cold_commands(tmp, orch)
    base = cold["compile 10"]
    for name in ("validate 10,000", "plan 10,000"):
        out.append((f"orch {name} steps, cold process (median CPU of 5)", cold[name],
                    f"<= 10x orch compile of 10 steps ({cold[name] / base:.1f}x)",
                    cold[name] <= 10 * base))
    return out
