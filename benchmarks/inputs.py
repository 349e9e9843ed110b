"""Generated inputs for the benchmarks: layered random-looking but seeded DAGs."""

from __future__ import annotations

import random
from typing import Any

import yaml


def dag_steps(
    n: int, seed: int = 7, kinds: tuple[str, ...] = ("ToolRun", "Container")
) -> list[dict[str, Any]]:
    """`n` steps, each depending on up to 3 earlier ones (about 2n edges)."""
    rng = random.Random(seed)
    steps: list[dict[str, Any]] = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        step: dict[str, Any] = {"name": f"step-{i}", "kind": kind}
        if kind == "ToolRun":
            step["toolRef"] = {"name": f"tool-{i % 7}"}
            step["with"] = {"index": str(i)}
        else:
            step["image"] = "alpine:3.20"
            step["command"] = ["sh", "-c", f"echo {i % 5}"]
        if i:
            step["dependsOn"] = sorted(
                {f"step-{rng.randrange(max(0, i - 50), i)}" for _ in range(rng.randint(1, 3))}
            )
        else:
            step["dependsOn"] = []
        steps.append(step)
    return steps


def orchestration_yaml(n: int, name: str = "bench", seed: int = 7) -> str:
    doc = {
        "apiVersion": "orchestration.proompteng.ai/v1alpha1",
        "kind": "Orchestration",
        "metadata": {"name": name},
        "spec": {"steps": dag_steps(n, seed)},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def alias_bomb(levels: int = 9, width: int = 10) -> str:
    """A YAML "billion laughs" inside an Orchestration: `width ** levels` strings
    from about 600 bytes (the issue's 634-byte example)."""
    lol = ",".join(['"lol"'] * width)
    lines = [f"    a: &a [{lol}]"]
    for i in range(1, levels):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"    {name}: &{name} [{','.join([f'*{prev}'] * width)}]")
    return ("apiVersion: orchestration.proompteng.ai/v1alpha1\nkind: Orchestration\n"
            "metadata: {name: bomb}\nspec:\n  steps:\n  - name: a\n    kind: Checkpoint\n"
            + "\n".join(lines) + "\n")


MANY_DOCUMENT = (
    "apiVersion: orchestration.proompteng.ai/v1alpha1\nkind: Orchestration\n"
    "metadata: {name: o-%06d}\nspec:\n"
    "  steps: [{name: a, kind: Checkpoint}, {name: b, kind: Checkpoint, dependsOn: [a]}]\n"
)


def many_documents(n: int = 270_000) -> str:
    """`n` small Orchestrations in one stream (270,000 make 51 MB)."""
    return "---\n".join(MANY_DOCUMENT % i for i in range(n))
