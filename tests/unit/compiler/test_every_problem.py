"""Every problem at once (contract §2): for an input with several independent
problems, what `orch validate` reports is the union of what it reports for each
problem alone. Before, a problem only compiling finds (a missing Tool, a Tool
that fails to render, retries or a timeout on a Template step, a run parameter a
Template step cannot take) or one found across Orchestrations (a SubOrchestration
cycle) appeared only once every other error of its Orchestration was fixed; and
a run with a problem of its own (a bad name, a field of the wrong type) hid what
pairing it finds (its Orchestration not in the input, a parameter a step cannot
take).

The input is one valid base; each mutation adds one problem at a place of its own
(a step no other mutation touches), so the problems are independent by
construction. Diagnostics are compared as (severity, reason, document, path):
messages and hints name other steps and lines, which mutations move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.batch import compile_texts
from compiler.diagnostics import Diagnostic
from orchapi.api import Obj

API = "orchestration.proompteng.ai/v1alpha1"


def container(name: str, *deps: str, **extra: Any) -> Obj:
    return {"name": name, "kind": "Container", "image": "alpine:3.20", "command": ["true"],
            "dependsOn": list(deps), **extra}


def base() -> list[Obj]:
    """A valid input: an Orchestration using every kind the mutations touch, the
    Orchestration it calls, the Tool its ToolRun steps run, and a run of it."""
    main = {"apiVersion": API, "kind": "Orchestration", "metadata": {"name": "main"},
            "spec": {"steps": [
                container("a"),
                container("b", "a"),
                {"name": "t", "kind": "ToolRun", "toolRef": {"name": "greeter"},
                 "with": {"who": "world"}, "dependsOn": ["a"]},
                {"name": "t2", "kind": "ToolRun", "toolRef": {"name": "greeter"},
                 "with": {"who": "moon"}, "dependsOn": ["a"]},
                {"name": "tpl", "kind": "Template",
                 "templateRef": {"name": "shared", "template": "notify"}, "dependsOn": ["a"]},
                {"name": "s", "kind": "SubOrchestration", "orchestrationRef": {"name": "child"},
                 "dependsOn": ["a"]},
                container("c", "b"),
                container("x", "a"),
                container("y", "x"),
                container("u", "a"),
                container("m", "a"),
                container("d1", "a"),
                container("d2", "a"),
            ]}}
    child = {"apiVersion": API, "kind": "Orchestration", "metadata": {"name": "child"},
             "spec": {"steps": [{"name": "k", "kind": "Checkpoint"}]}}
    tool = {"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
            "metadata": {"name": "greeter"},
            "spec": {"image": "alpine:3.20", "command": ["echo"],
                     "args": ["hello {{parameters.who}}"]}}
    run = {"apiVersion": API, "kind": "OrchestrationRun", "metadata": {"name": "r1"},
           "spec": {"orchestrationRef": {"name": "main"}, "parameters": {"p": "v"}}}
    run2 = {"apiVersion": API, "kind": "OrchestrationRun", "metadata": {"name": "r2"},
            "spec": {"orchestrationRef": {"name": "child"}}}
    return [main, child, tool, run, run2]


def step(docs: list[Obj], name: str) -> Obj:
    found: Obj = next(s for s in docs[0]["spec"]["steps"] if s["name"] == name)
    return found


Mutation = Callable[[list[Obj]], None]
MUTATIONS: dict[str, Mutation] = {
    "missing-dependency": lambda d: step(d, "c").update(dependsOn=["nope"]),
    "retries-of-the-wrong-type": lambda d: step(d, "b").update(retries="x"),
    "tool-not-found": lambda d: step(d, "t").update(toolRef={"name": "absent"}),
    "tool-parameter-missing": lambda d: step(d, "t2").update({"with": {}}),
    "template-retries": lambda d: step(d, "tpl").update(retries=2),
    "template-timeout": lambda d: step(d, "tpl").update(timeoutSeconds=30),
    "sub-orchestration-cycle": lambda d: d[1]["spec"]["steps"].append(
        {"name": "back", "kind": "SubOrchestration", "orchestrationRef": {"name": "main"}}),
    "dependency-cycle": lambda d: step(d, "x").update(dependsOn=["y"]),
    "unsupported-kind": lambda d: step(d, "u").update(kind="Contianer"),
    "missing-image": lambda d: step(d, "m").pop("image"),
    "duplicate-step": lambda d: step(d, "d2").update(name="d1"),
    "invalid-entrypoint": lambda d: d[0]["spec"].update(entrypoint="Not_A_Name"),
    "run-parameter-reaches-template": lambda d: d[3]["spec"]["parameters"].update(p="{{x}}"),
    # The run's own problems (an invalid run is salvaged: issue 21).
    "run-name-invalid": lambda d: d[3]["metadata"].update(name="Run_1"),
    "run-delivery-id-of-the-wrong-type": lambda d: d[3]["spec"].update(deliveryId=5),
    "orchestration-not-found": lambda d: d[4]["spec"].update(orchestrationRef={"name": "nope"}),
    "second-run-parameter-name": lambda d: d[4]["spec"].update(parameters={"a.b": "v"}),
}


def problems(mutations: Iterable[str]) -> set[tuple[str, str, int, str]]:
    docs = base()
    for name in mutations:
        MUTATIONS[name](docs)
    batch = compile_texts([("in.yaml", yaml.safe_dump_all(docs, sort_keys=False))])
    return {_key(d) for d in batch.diagnostics}


def _key(d: Diagnostic) -> tuple[str, str, int, str]:
    return (str(d.severity), str(d.reason), d.document, str(d.path))


def test_the_base_is_valid() -> None:
    assert problems([]) == set()


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_mutation_is_a_problem(name: str) -> None:
    assert any(sev == "error" for sev, *_ in problems([name])), name


def test_every_problem_at_once_is_the_union_of_each_alone() -> None:
    alone = {name: problems([name]) for name in MUTATIONS}
    assert problems(MUTATIONS) == set().union(*alone.values())


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(sorted(MUTATIONS)), min_size=2, max_size=5))
def test_any_set_of_problems_is_the_union_of_each_alone(chosen: set[str]) -> None:
    assert problems(chosen) == set().union(*(problems([name]) for name in chosen))
