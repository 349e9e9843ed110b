"""Hypothesis strategies: random valid DAG orchestrations, and ways to break them."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

NAME = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True).filter(
    lambda n: n not in {"in", "not", "and", "or", "let", "if", "else", "true", "false", "nil"}
)


@st.composite
def dags(draw: st.DrawFn, min_steps: int = 1, max_steps: int = 25) -> dict[str, Any]:
    """An Orchestration document whose dependencies only point backwards (so it is
    acyclic), in a random mix of kinds, with random continueOnFailure."""
    names = draw(st.lists(NAME, min_size=min_steps, max_size=max_steps, unique=True))
    steps: list[dict[str, Any]] = []
    dag_mode = draw(st.booleans())
    for i, name in enumerate(names):
        step: dict[str, Any] = {"name": name}
        step.update(draw(kind_fields()))
        if dag_mode and i and draw(st.booleans()):
            step["dependsOn"] = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=4))
        if draw(st.booleans()):
            step["continueOnFailure"] = draw(st.booleans())
        steps.append(step)
    if dag_mode and not any("dependsOn" in s for s in steps):
        steps[-1]["dependsOn"] = []
    return orchestration(steps)


def orchestration(steps: list[Any], name: str = "random") -> dict[str, Any]:
    return {
        "apiVersion": "orchestration.proompteng.ai/v1alpha1",
        "kind": "Orchestration",
        "metadata": {"name": name},
        "spec": {"steps": steps},
    }


def kind_fields() -> st.SearchStrategy[dict[str, Any]]:
    value = st.text(max_size=20)
    return st.one_of(
        st.fixed_dictionaries(
            {"kind": st.just("ToolRun"), "toolRef": st.just({"name": "tool"})},
            optional={"with": st.dictionaries(NAME, value, max_size=3)},
        ),
        st.fixed_dictionaries(
            {
                "kind": st.just("AgentRun"),
                "agentRef": st.just({"name": "agent"}),
                "implementationSpecRef": st.just({"name": "impl"}),
            },
            optional={"retries": st.integers(0, 5), "timeoutSeconds": st.integers(1, 3600)},
        ),
        st.fixed_dictionaries(
            {"kind": st.just("Container"), "image": st.sampled_from(["alpine", "busybox"])},
            optional={"args": st.lists(value, max_size=3)},
        ),
        st.fixed_dictionaries({"kind": st.sampled_from(["Checkpoint", "MemoryOp"])}),
    )
