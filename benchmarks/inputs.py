"""Generated inputs for the benchmarks: layered random-looking but seeded DAGs."""

from __future__ import annotations

import random
from typing import Any

import yaml


def dag_steps(
    n: int, seed: int = 7, kinds: tuple[str, ...] = ("AgentRun", "Container")
) -> list[dict[str, Any]]:
    """`n` steps, each depending on up to 3 earlier ones (about 2n edges)."""
    rng = random.Random(seed)
    steps: list[dict[str, Any]] = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        step: dict[str, Any] = {"name": f"step-{i}", "kind": kind}
        if kind == "AgentRun":  # a resource template with a per-step spec argument
            step["agentRef"] = {"name": f"agent-{i % 7}"}
            step["implementationSpecRef"] = {"name": "impl"}
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
