"""A Tool's (and a Container step's) own text keeps Kubernetes' `$(VAR)` meaning,
as in the reference's Job; only the values `{{parameters.NAME}}` renders are
protected (issue 20 item 2, contract §4).

Proven with `k8s_expand`, the port of the kubelet's expansion: the process sees
what the reference's Job's process would see (`submitToolRunJob`, whose container
the reference's own code builds under node here), byte for byte, and a rendered
value arrives as the user wrote it. The Job's extra `TOOL_RUN_SPEC` variable and
its run.json volume are the one difference (docs/step-kinds.md says why)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.kinds.container import BRACE_VAR, own_text, written
from tests.support.built import build, documents
from tests.support.reference import oracle
from tests.unit.compiler.test_literals import k8s_expand

DEFINED = {"HOME": "/root", "x": "EXPANDED", "GREETING": "hello"}
TEXT = st.lists(st.sampled_from(["$", "(", ")", "{", "}", "{{", "$(", "$$", "x", "HOME", " ",
                                 BRACE_VAR, "$(HOME)", "$(x)", "é"]), max_size=12).map("".join)


def lookup(env: dict[str, str]) -> Callable[[str], str]:
    return lambda name: env.get(name, f"$({name})")


REFERENCE = lookup(DEFINED)  # the reference's Job: no brace variable
ORCH = lookup({**DEFINED, BRACE_VAR: "{"})


def test_a_tool_s_own_variable_is_expanded_as_in_the_job() -> None:
    assert k8s_expand(own_text("echo $(GREETING)"), ORCH) == "echo hello"
    assert k8s_expand(own_text("$$(GREETING) costs $5"), ORCH) == "$(GREETING) costs $5"
    assert k8s_expand(own_text("$(ORCH_OPEN_BRACE) {{x}}"), ORCH) == "$(ORCH_OPEN_BRACE) {{x}}"


@settings(max_examples=2000, deadline=None)
@given(TEXT)
def test_own_text_means_to_the_kubelet_what_it_meant_in_the_job(text: str) -> None:
    out = own_text(text)
    assert "{{" not in out, "Argo would expand it"
    assert k8s_expand(out, ORCH) == k8s_expand(text, REFERENCE)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.tuples(st.booleans(), TEXT), max_size=5))
def test_values_arrive_as_written_and_own_text_keeps_its_meaning(
        pieces: list[tuple[bool, str]]) -> None:
    out = written(pieces)
    assert "{{" not in out
    assert k8s_expand(out, ORCH) == "".join(
        t if value else k8s_expand(t, REFERENCE) for value, t in pieces)


def self_contained(text: str) -> bool:
    """The kubelet's scan of `text` ends inside it: no `$(` it leaves open and no
    `$` last. Otherwise a rendered value would complete the reference in the
    reference's Job (where values are not protected), and not here."""
    i = 0
    while i < len(text):
        if text[i] != "$":
            i += 1
        elif i + 1 == len(text):
            return False
        elif text[i + 1] == "(":
            close = text.find(")", i + 2)
            if close < 0:
                return False
            i = close + 1
        else:
            i += 2
    return True


SAFE_VALUE = st.lists(st.sampled_from(["a", " ", "{", "}", "{{", "(", ")", "é", "x"]),
                      max_size=6).map("".join)
PIECE = st.one_of(st.tuples(st.just(False), TEXT.filter(self_contained)),
                  st.tuples(st.just(True), SAFE_VALUE))


@settings(max_examples=2000, deadline=None)
@given(st.lists(PIECE, max_size=5))
def test_with_values_free_of_dollars_the_process_sees_what_the_job_s_sees(
        pieces: list[tuple[bool, str]]) -> None:
    """The reference renders, then the kubelet expands the whole text."""
    job = "".join(t for _, t in pieces)
    assert k8s_expand(written(pieces), ORCH) == k8s_expand(job, REFERENCE)


# -- byte for byte against the reference's Job container --------------------------------------
def tool(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
            "metadata": {"name": "greeter", "namespace": "ns"}, "spec": spec}


GREETER = {
    "image": "alpine:3.20",
    "command": ["/bin/sh", "-c"],
    "args": ["echo $(GREETING), {{parameters.who}}: $$(GREETING) costs $5 {{ parameters.what }}",
             "$(HOME)/{{parameters.who}}",
             "${GREETING} {{}} {{parameters.who}}{{parameters.what}}"],
    # (An entry without a name, which the reference's Job drops without a word, is
    # refused by orch: tests/unit/controller/test_validation.py, test_hostile_fields.)
    "env": [{"name": "GREETING", "value": "hi {{parameters.who}}"},
            {"name": "TWICE", "value": "$(GREETING) $(GREETING)"}],
    "workingDir": "/work/$(HOME)",
}


def process(container: dict[str, Any]) -> tuple[list[str], dict[str, str], str | None]:
    """Argv, environment and working directory as the container's process gets them."""
    env: dict[str, str] = {}
    for e in container.get("env") or ():
        env[e["name"]] = k8s_expand(e.get("value", ""), lookup(env))
    argv = [*(container.get("command") or ()), *(container.get("args") or ())]
    return [k8s_expand(a, lookup(env)) for a in argv], env, container.get("workingDir")


def orch_container(spec: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    step = {"name": "greet", "kind": "ToolRun", "toolRef": {"name": "greeter"},
            "with": parameters}
    built = build(documents([step], {}, [tool(spec)]))
    assert not [d for d in built.diagnostics if d.is_error], built.problems
    container: dict[str, Any] = built.objects["greet"]
    return container


def test_the_pod_sees_what_the_reference_s_job_would_byte_for_byte() -> None:
    parameters = {"who": "world {{workflow.name}} é", "what": "(tea)"}
    (job,) = oracle([{"op": "ToolRunJob", "tool": tool(GREETER), "parameters": parameters,
                      "runName": "run-greet"}])
    (job_container,) = job["value"]["containers"]
    argv, env, workdir = process(orch_container(GREETER, parameters))
    job_argv, job_env, job_workdir = process(job_container)
    assert argv == job_argv
    assert argv[2] == "echo hi world {{workflow.name}} é, world {{workflow.name}} é: " \
                      "$(GREETING) costs $5 (tea)"
    assert (workdir, job_workdir) == ("/work/$(HOME)", "/work/$(HOME)")  # never expanded
    # The Job's one extra variable (and the run.json volume it names) is not carried.
    assert job_env.pop("TOOL_RUN_SPEC") == "/workspace/run.json"
    assert env.pop(BRACE_VAR) == "{"
    assert env == job_env
    assert job_container["volumeMounts"] == [{"name": "run-greet-spec-vol",
                                              "mountPath": "/workspace/run.json",
                                              "subPath": "run.json"}]


def test_a_value_holding_dollars_arrives_unchanged_where_the_job_would_expand_it() -> None:
    parameters = {"who": "$(GREETING) $$x", "what": "$(TWICE)"}
    (job,) = oracle([{"op": "ToolRunJob", "tool": tool(GREETER), "parameters": parameters,
                      "runName": "run-greet"}])
    argv, env, _ = process(orch_container(GREETER, parameters))
    job_argv, job_env, _ = process(job["value"]["containers"][0])
    assert env["GREETING"] == "hi $(GREETING) $$x"  # the value as written
    assert job_env["GREETING"] == "hi $(GREETING) $x"  # the Job's kubelet reads the value too
    assert argv[3] == "$(HOME)/$(GREETING) $$x"
    assert job_argv[3] == "$(HOME)/hi $(GREETING) $x $x"
    assert argv[2].startswith("echo hi $(GREETING) $$x, ")  # the Tool's own $(GREETING)
