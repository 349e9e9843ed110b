"""Big random Orchestrations (hundreds to 10,000 steps) in every step kind, for the
tests of split runs (contract §8): seeded, so a failure names its case."""

from __future__ import annotations

import random
from typing import Any

from orchapi.models import Orchestration, OrchestrationRun

# The kinds whose steps need nothing but the step itself (a ToolRun needs its Tool in
# the input, a Template step its WorkflowTemplate to lint against); a SignalWait
# compiles as an ApprovalGate does (one `wait` template).
KINDS = ("Container", "AgentRun", "Checkpoint", "ApprovalGate", "SubOrchestration",
         "Container")


def big_steps(n: int, seed: int = 1, window: int = 40) -> list[dict[str, Any]]:
    """`n` steps of KINDS in turn, each depending on up to 3 of the `window` steps
    before it, one in five best-effort, about one Container step in three with
    retries."""
    rng = random.Random(seed)
    steps: list[dict[str, Any]] = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        step: dict[str, Any] = {"name": f"step-{i}", "kind": kind}
        if kind == "Container":
            step.update(image=f"alpine:3.{i % 7}", command=["sh", "-c", f"exit {i % 2}"])
        elif kind == "AgentRun":
            step.update(agentRef={"name": f"agent-{i % 5}"}, implementationSpecRef={"name": "impl"},
                        **{"with": {"index": str(i)}})
        elif kind == "ApprovalGate":
            step.update(policyRef=f"policy-{i % 3}")
        elif kind == "SubOrchestration":
            step.update(orchestrationRef={"name": "child"})
        step["dependsOn"] = sorted({f"step-{rng.randrange(max(0, i - window), i)}"
                                    for _ in range(rng.randint(0, 3))}) if i else []
        if rng.random() < 0.2:
            step["continueOnFailure"] = True
        if kind == "Container" and rng.random() < 0.3:
            step["retries"] = 2
        steps.append(step)
    return steps


def big_orchestration(n: int, seed: int = 1, namespace: str = "orch-e2e") -> Orchestration:
    return Orchestration.model_validate({
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
        "metadata": {"name": f"big-{n}", "namespace": namespace},
        "spec": {"steps": big_steps(n, seed)}})


def big_run(n: int, namespace: str = "orch-e2e") -> OrchestrationRun:
    return OrchestrationRun.model_validate({
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
        "metadata": {"name": f"big-{n}-run", "namespace": namespace},
        "spec": {"orchestrationRef": {"name": f"big-{n}"}}})
