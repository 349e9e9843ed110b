"""`make bench`: the performance targets of issue #2, measured as the contract's
§7 says (cold = fresh process after one untimed run, median of several).
Prints one line per benchmark with the target and whether it is met."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.inputs import dag_steps, orchestration_yaml

ORCH = [sys.executable, "-m", "compiler.cli"]


def median_time(fn: Callable[[], object], runs: int) -> float:
    fn()  # untimed: warm caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_cli_compile(tmp: Path) -> float:
    path = tmp / "ten.yaml"
    path.write_text(orchestration_yaml(10))
    cmd = [*_orch_command(), "compile", str(path)]
    return median_time(lambda: subprocess.run(cmd, check=True, capture_output=True), runs=9)


def _orch_command() -> list[str]:
    script = Path(sys.executable).parent / "orch"
    return [str(script)] if script.exists() else ORCH


def bench_cli_validate(tmp: Path) -> float:
    folder = tmp / "many"
    folder.mkdir()
    for i in range(1000):
        (folder / f"o{i}.yaml").write_text(orchestration_yaml(20, name=f"o{i}", seed=i))
    cmd = [*_orch_command(), "validate", *map(str, sorted(folder.iterdir()))]
    return median_time(lambda: subprocess.run(cmd, check=True, capture_output=True), runs=3)


def bench_vs_hera(n: int = 200) -> tuple[float, float]:
    import compiler.cli  # noqa: F401  (its import cost stays outside the timing)
    from compiler.emit import emit_workflow
    from compiler.inputs import parse_text
    from compiler.render import to_yaml

    text = orchestration_yaml(n)

    def ours() -> str:
        parsed = parse_text(text, "bench.yaml")
        ((_, orch),) = parsed.orchestrations
        return to_yaml([emit_workflow(orch).workflow])

    steps = dag_steps(n)

    def hera() -> str:
        from hera.workflows import DAG, Container, Parameter, Resource, Workflow

        with Workflow(generate_name="bench-", entrypoint="main") as w:
            agent = Resource(
                name="agent-run",
                action="create",
                manifest="spec: {{inputs.parameters.spec}}",
                inputs=[Parameter(name="step"), Parameter(name="spec")],
            )
            containers = {}
            for s in steps:
                if s["kind"] == "Container":
                    key = s["command"][2]
                    if key not in containers:
                        containers[key] = Container(
                            name=f"container-{s['name']}",
                            image=s["image"],
                            command=s["command"],
                            inputs=[Parameter(name="step")],
                        )
            with DAG(name="main", fail_fast=False):
                tasks: dict[str, Any] = {}
                for s in steps:
                    if s["kind"] == "AgentRun":
                        t = agent(
                            name=s["name"], arguments={"step": s["name"], "spec": str(s["with"])}
                        )
                    else:
                        t = containers[s["command"][2]](
                            name=s["name"], arguments={"step": s["name"]}
                        )
                    tasks[s["name"]] = t
                for s in steps:
                    for d in s["dependsOn"]:
                        tasks[d] >> tasks[s["name"]]
        return str(w.to_yaml())

    ours_t = median_time(ours, runs=7)
    hera_t = median_time(hera, runs=5)
    return ours_t, hera_t


def bench_validation(n: int) -> float:
    from compiler.inputs import parse_text

    text = orchestration_yaml(n)
    return median_time(lambda: parse_text(text, "big.yaml"), runs=5)


def main() -> int:
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        t = bench_cli_compile(tmp)
        rows.append(
            ("orch compile, 10 steps, cold process (median of 9)", t, "<= 0.300 s", t <= 0.3)
        )
        t = bench_cli_validate(tmp)
        rows.append(
            (
                "orch validate, 1000 files x 20 steps, one call (median of 3)",
                t,
                "<= 2.000 s",
                t <= 2,
            )
        )
    ours, hera = bench_vs_hera()
    rows.append(("compile 200-step DAG in-process: orch", ours, "", True))
    rows.append(
        (
            "build the same DAG with Hera + to_yaml()",
            hera,
            f">= 3x orch ({hera / ours:.1f}x)",
            hera >= 3 * ours,
        )
    )
    small, big = bench_validation(1000), bench_validation(10_000)
    rows.append(("validate 1,000-step graph from YAML text", small, "", True))
    rows.append(
        (
            "validate 10,000-step graph from YAML text",
            big,
            f"<= 0.500 s, <= 12x ({big / small:.1f}x)",
            big <= 0.5 and big <= 12 * small,
        )
    )
    for name, seconds, target, ok in rows:
        print(f"| {name} | {seconds:.3f} s | {target} | {'met' if ok else 'MISSED'} |")
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
