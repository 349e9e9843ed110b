"""Every step kind builds what the reference controller builds from the same step,
field for field (issue 20 item 1, contract §4).

The expected objects are derived from the reference's source (proompteng/lab
@6b69af37, services/agents/src/server/orchestration-controller.ts, cited `ts:N`
per row). Each row is checked twice: orch's compiled Workflow builds it, and the
reference's own functions (run under node by tests/js/reference/oracle.mjs, read
from the mirror at test time) build it too, so a row cannot be a misreading of the
source. Where orch deliberately differs (it reports what the reference drops
without a word) the row says so and why."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from compiler.kinds.wait import WaitSpec
from compiler.step_fields import NOTHING, READS, field_table
from tests.golden import STEP_KINDS_DOC, with_field_table
from tests.support.built import build, documents
from tests.support.reference import CONTROLLER, oracle, require_mirror_file

RUN = {"runId": "r-1", "repository": "proompteng/lab"}
IMPL = {"inline": {"text": "Implement it", "summary": "it"}}


def agent(**fields: Any) -> dict[str, Any]:
    return {"name": "s", "kind": "AgentRun", "agentRef": {"name": "codex-agent"}, **fields}


# (id, step, run parameters, the object the reference builds, where it says so)
AGENT_RUNS = [
    pytest.param(
        agent(with_={"implementation": json.dumps(IMPL, indent=2),
                     "runtime": '{"type":"job","config":{"serviceAccountName":"agents-sa"}}',
                     "secrets": '["github-token","codex-auth"]',
                     "policy": '{"secretBindingRef":"codex-github-token"}', "vcsRef": "github",
                     "vcsPolicy": '{"required":true,"mode":"read-write"}',
                     "goal": '{"objective":"{{codexPrompt}}","tokenBudget":250000}',
                     "ttlSecondsAfterFinished": "86400"}),
        RUN,
        lambda w: {"agentRef": {"name": "codex-agent"}, "implementation": IMPL,
                   "parameters": {**RUN, **w}, "secrets": ["github-token", "codex-auth"],
                   "policy": {"secretBindingRef": "codex-github-token"},
                   "vcsRef": {"name": "github"}, "vcsPolicy": {"required": True,
                                                               "mode": "read-write"},
                   "goal": {"objective": "{{codexPrompt}}", "tokenBudget": 250000},
                   "runtime": {"type": "job", "config": {"serviceAccountName": "agents-sa"}},
                   "ttlSecondsAfterFinished": 86400},
        "ts:910 readStepRecord falls back to with; ts:867 JSON text; ts:880 JSON array; "
        "ts:902 numeric text; ts:996 parameters = run overlaid by with (ts:1552, ts:453)",
        id="the-live-codex-shape-every-field-in-with-as-json-text"),
    pytest.param(
        agent(implementationSpecRef="impl", memoryRef="mem", vcsRef={"name": "github"},
              secrets=["a", "", "  ", "b"], runtime={"type": "workflow", "config": {"x": 1},
                                                     "other": "dropped"},
              workflow={"steps": [{"name": "impl", "timeoutSeconds": 60}]},
              workload={"image": "runner:1"}, ttlSecondsAfterFinished=600),
        None,
        lambda w: {"agentRef": {"name": "codex-agent"}, "implementationSpecRef": {"name": "impl"},
                   "parameters": {}, "memoryRef": {"name": "mem"}, "secrets": ["a", "b"],
                   "vcsRef": {"name": "github"}, "runtime": {"type": "workflow",
                                                             "config": {"x": 1}},
                   "workflow": {"steps": [{"name": "impl", "timeoutSeconds": 60}]},
                   "workload": {"image": "runner:1"}, "ttlSecondsAfterFinished": 600},
        "ts:952 a reference as a plain string; ts:882 blank entries dropped; ts:1003 runtime "
        "keeps type and config only; ts:1007 a workflow with steps kept as given",
        id="fields-on-the-step-as-objects-and-strings"),
    pytest.param(
        agent(implementationSpecRef={"name": "on-step"},
              with_={"implementationSpecRef": "in-with", "implementation": json.dumps(IMPL),
                     "memoryRef": " padded "}),
        None,
        lambda w: {"agentRef": {"name": "codex-agent"},
                   "implementationSpecRef": {"name": "on-step"}, "implementation": IMPL,
                   "parameters": w, "memoryRef": {"name": "padded"}, "runtime": {"type": "job"}},
        "ts:950-953 the step's {name} before with; asString trims (primitives.ts); "
        "ts:994-995 both a ref and an implementation are carried",
        id="the-step-wins-over-with-and-names-are-trimmed"),
    pytest.param(
        agent(implementationSpecRef={"name": "i"},
              with_={"runtime": '{"type":"workflow"}', "workflow": '{"parallelism":2}'}),
        {"a": "1"},
        lambda w: {"agentRef": {"name": "codex-agent"}, "implementationSpecRef": {"name": "i"},
                   "parameters": {"a": "1", **w}, "runtime": {"type": "workflow"},
                   "workflow": {"parallelism": 2, "steps": [{"name": "main"}]}},
        "ts:1004-1008 a workflow runtime's workflow gets steps [{name: main}] when it has none",
        id="workflow-runtime-defaults-its-steps"),
    pytest.param(
        agent(implementationSpecRef={"name": "i"}, runtime={"type": "workflow"}),
        None,
        lambda w: {"agentRef": {"name": "codex-agent"}, "implementationSpecRef": {"name": "i"},
                   "parameters": {}, "runtime": {"type": "workflow"},
                   "workflow": {"steps": [{"name": "main"}]}},
        "ts:1007 `{ ...null, steps }`: a workflow runtime without a workflow still gets one",
        id="workflow-runtime-without-a-workflow"),
    pytest.param(
        agent(implementationSpecRef={"name": "i"},
              with_={"runtime": '{"type":"  ","config":{}}', "secrets": "a, b  c,,d",
                     "policy": "{}", "goal": "   ", "ttlSecondsAfterFinished": " 0 "}),
        None,
        lambda w: {"agentRef": {"name": "codex-agent"}, "implementationSpecRef": {"name": "i"},
                   "parameters": w, "secrets": ["a", "b", "c", "d"], "policy": {},
                   "runtime": {"type": "job"}, "ttlSecondsAfterFinished": 0},
        "ts:961 a blank type is job; ts:1003 an empty config is omitted; ts:895 names split "
        "on commas and spaces; ts:999 an empty object is kept (truthy); ts:870 blank text is "
        "no value; ts:1011 0 is kept",
        id="defaults-blanks-and-empty-objects"),
]


def _normalised(step: dict[str, Any]) -> dict[str, Any]:
    """`with_` (a Python keyword's stand-in) as `with`."""
    return {("with" if k == "with_" else k): v for k, v in step.items()}


@pytest.mark.parametrize(("step", "run", "expected", "source"), AGENT_RUNS)
def test_an_agent_run_step_builds_the_reference_s_agent_run(
        step: dict[str, Any], run: dict[str, str] | None, expected: Any, source: str) -> None:
    step = _normalised(step)
    built = build(documents([step], run))
    assert [p for p in built.problems if p[2] == "error"] == []
    assert built.objects["s"] == expected(step.get("with", {}))


def test_the_reference_s_own_code_builds_each_row() -> None:
    steps: list[tuple[dict[str, Any], Any, Any]] = [
        (_normalised(cast(dict[str, Any], p.values[0])), p.values[1], p.values[2])
        for p in AGENT_RUNS]
    found = oracle([{"op": "AgentRun", "step": s, "runParameters": r or {}} for s, r, _ in steps])
    for (step, _, expected), result in zip(steps, found, strict=True):
        assert result == {"value": expected(step.get("with", {}))}, step["with"]


# Other kinds: the names the reference reads (their objects differ by design: a
# ToolRun runs its Tool's container, the waits are suspend nodes).
OTHERS = [
    pytest.param("SubOrchestration",
                 {"name": "s", "kind": "SubOrchestration", "orchestrationRef": {"name": "child"},
                  "deliveryId": "not-carried", "with": {"parameters": '{"message":"hello"}'}},
                 {"orchestrationRef": {"name": "child"},
                  "parameters": {**RUN, "parameters": '{"message":"hello"}'}},
                 "ts:1127-1130 orchestrationRef and parameters, nothing else",
                 id="sub-orchestration-the-lab-s-primitives-step"),
    pytest.param("SubOrchestration",
                 {"name": "s", "kind": "SubOrchestration", "with": {"orchestrationRef": " kid "}},
                 {"orchestrationRef": {"name": "kid"}, "parameters": {**RUN, "orchestrationRef":
                                                                      " kid "}},
                 "ts:1108-1111 with.orchestrationRef when the step has none",
                 id="sub-orchestration-ref-in-with"),
    pytest.param("ApprovalGate", {"name": "s", "kind": "ApprovalGate", "policyRef": " p "},
                 {"policyRef": "p"}, "ts:1459 the step's string, trimmed", id="gate-on-step"),
    pytest.param("ApprovalGate", {"name": "s", "kind": "ApprovalGate",
                                  "with": {"policyRef": "p2"}},
                 {"policyRef": "p2"}, "ts:1459 else with.policyRef", id="gate-in-with"),
    pytest.param("SignalWait", {"name": "s", "kind": "SignalWait",
                                "signalRef": {"name": "on-step"},
                                "with": {"signalRef": "in-with", "deliveryId": " d-1 "}},
                 {"signalRef": "in-with", "deliveryId": "d-1"},
                 "ts:1495-1498 a string on the step, else with, else the step's {name}",
                 id="signal-with-beats-the-step-s-name-object"),
    pytest.param("SignalWait", {"name": "s", "kind": "SignalWait", "signalRef": "sig",
                                "deliveryId": "d", "with": {"signalRef": "other"}},
                 {"signalRef": "sig", "deliveryId": "d"},
                 "ts:1496, ts:1499 the step's strings first", id="signal-on-step"),
    pytest.param("SignalWait", {"name": "s", "kind": "SignalWait", "with": {"deliveryId": "d"}},
                 {"signalRef": None, "deliveryId": "d"}, "ts:1499 a deliveryId alone",
                 id="signal-delivery-only"),
]


def _orch_names(kind: str, built: Any) -> Any:
    if kind == "SubOrchestration":
        return built
    assert isinstance(built, WaitSpec)
    if kind == "ApprovalGate":
        return {"policyRef": built.policy}
    return {"signalRef": built.signal, "deliveryId": built.delivery_id}


@pytest.mark.parametrize(("kind", "step", "expected", "source"), OTHERS)
def test_the_other_kinds_read_what_the_reference_reads(
        kind: str, step: dict[str, Any], expected: Any, source: str) -> None:
    built = build(documents([step], RUN))
    assert [p for p in built.problems if p[2] == "error"] == []
    assert _orch_names(kind, built.objects["s"]) == expected


def test_the_reference_s_own_code_reads_the_other_kinds_so() -> None:
    rows = [p.values for p in OTHERS]
    found = oracle([{"op": kind, "step": step, "runParameters": RUN}
                    for kind, step, _, _ in rows])
    for (_, step, expected, _), result in zip(rows, found, strict=True):
        assert result == {"value": expected}, step


def test_a_number_past_2_to_the_53_arrives_unchanged() -> None:
    """JavaScript would round it (the reference's AgentRun would hold 1e17): a user's
    value arrives unchanged (contract §4), in JSON text as in an object."""
    budget = 99999999999999999
    built = build(documents([agent(implementationSpecRef="i", goal={"tokenBudget": budget},
                                   **{"with": {"policy": f'{{"n": {budget}}}'}})]))
    assert built.objects["s"]["goal"] == {"tokenBudget": budget}
    assert built.objects["s"]["policy"] == {"n": budget}


# -- where orch differs, and why -------------------------------------------------------------
DIFFERENCES = [
    pytest.param(
        agent(with_={"implementation": '{\n  "inline": {"text": "x"},\n  "oops" 1\n}'}),
        ("InvalidField", "spec.steps[0].with.implementation"), "at line 3 column 10",
        "ts:876 the reference drops JSON text that does not parse",
        id="invalid-json-is-reported-with-its-position"),
    pytest.param(
        agent(implementationSpecRef={"name": "i"}, with_={"policy": '["a"]'}),
        ("InvalidField", "spec.steps[0].with.policy"), "JSON text of an object",
        "ts:873 asRecord drops JSON that is not an object", id="json-not-an-object"),
    pytest.param(
        agent(implementationSpecRef={"name": "i"}, secrets=["a", 3]),
        ("InvalidField", "spec.steps[0].secrets[1]"), "must be a string",
        "ts:882 the reference filters out what is not a string", id="a-secret-not-a-string"),
    pytest.param(
        agent(implementationSpecRef={"name": "i"}, with_={"secrets": '["a",'}),
        ("InvalidField", "spec.steps[0].with.secrets"), "not valid JSON",
        "ts:891 the reference reads no secrets from JSON that does not parse",
        id="secrets-json-that-does-not-parse"),
    pytest.param(
        agent(implementationSpecRef={"name": "i"}, with_={"ttlSecondsAfterFinished": "86400s"}),
        ("InvalidField", "spec.steps[0].with.ttlSecondsAfterFinished"), "numeric text",
        "ts:906 parseFloat reads 86400 and drops the rest", id="a-number-with-junk"),
]


@pytest.mark.parametrize(("step", "problem", "says", "source"), DIFFERENCES)
def test_orch_reports_what_the_reference_drops_without_a_word(
        step: dict[str, Any], problem: tuple[str, str], says: str, source: str) -> None:
    built = build(documents([_normalised(step)]))
    found = [d for d in built.diagnostics if (str(d.reason), str(d.path)) == problem]
    assert len(found) == 1 and found[0].is_error and says in found[0].message, \
        built.problems


def test_a_step_without_an_implementation_compiles_with_a_warning() -> None:
    """The reference throws at submission (ts:956-958: its step fails, StepError); the
    AgentRun CRD refuses the object. orch compiles it (contract §1: the lab's own
    primitives Orchestration has such a step), warns, and builds what the reference
    would have submitted; the apiserver's refusal fails the step when it runs."""
    built = build(documents([agent()]))
    assert built.problems == [("MissingStepField", "spec.steps[0].implementationSpecRef",
                               "warning")]
    assert built.objects["s"] == {"agentRef": {"name": "codex-agent"}, "parameters": {},
                                  "runtime": {"type": "job"}}
    (found,) = oracle([{"op": "AgentRun", "step": agent(), "runParameters": {}}])
    assert found == {"error": "implementationSpecRef or implementation is required for "
                              "AgentRun step"}


def test_a_workflow_another_runtime_does_not_read_is_ignored_field() -> None:
    """ts:1004: the workflow goes only with a workflow runtime; orch drops it too, and
    says so."""
    built = build(documents([agent(implementationSpecRef="i", workflow={"steps": []})]))
    assert built.problems == [("IgnoredField", "spec.steps[0].workflow", "warning")]
    assert "workflow" not in built.objects["s"]


def test_what_the_run_s_parameters_bring_the_crd_would_refuse_is_named() -> None:
    """The AgentRun CRD: parameters maxProperties 100, no `prompt` (its CEL rule)."""
    many = {f"p{i}": "x" for i in range(100)}
    built = build(documents([agent(implementationSpecRef="i", **{"with": {"one": "more"}})], many))
    assert ("InvalidField", "spec.steps[0].with", "warning") in built.problems
    built = build(documents([agent(implementationSpecRef="i")], {"prompt": "hi"}))
    assert built.problems == [("InvalidField", "spec.steps[0].with", "warning")]
    assert "'prompt'" in built.diagnostics[0].message


@pytest.mark.parametrize("where", ["implementation", "implementationSpecRef"])
def test_no_warning_when_with_gives_the_implementation(where: str) -> None:
    value = json.dumps(IMPL) if where == "implementation" else "impl"
    built = build(documents([agent(**{"with": {where: value}})]))
    assert built.problems == []


# -- a property: any step of these shapes, orch == the reference's own code ----------------------
TEXT = st.text(st.sampled_from("ab- ,[]{}\"1"), max_size=8)
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers(-5, 2**53) | TEXT,
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)
RECORD = st.dictionaries(st.sampled_from(["type", "config", "steps", "inline", "x"]),
                         JSON_VALUE, max_size=3)
NAME = st.sampled_from(["a", " b ", "c-1", "", "  "])


@st.composite
def agent_steps(draw: st.DrawFn) -> dict[str, Any]:
    step: dict[str, Any] = {"name": "s", "kind": "AgentRun",
                            "agentRef": {"name": draw(st.sampled_from(["x", " y "]))}}
    with_: dict[str, str] = {}
    for f in READS["AgentRun"]:
        if f.key in ("agentRef", "with") or not draw(st.booleans()):
            continue
        place = draw(st.sampled_from(["step", "with"]))
        if f.shape == "reference":
            value: Any = draw(NAME)
            if place == "step" and draw(st.booleans()):
                value = {"name": value}
        elif f.shape == "record":
            value = draw(RECORD)
            if place == "with" or draw(st.booleans()):
                value = json.dumps(value, indent=draw(st.sampled_from([None, 2])))
        elif f.shape == "names":
            items = draw(st.lists(st.sampled_from(["a", "b c", " ", "d,e"]), max_size=3))
            value = draw(st.sampled_from([items, json.dumps(items), " ,".join(items)]))
        else:
            number = draw(st.integers(0, 10**6))
            value = draw(st.sampled_from([number, str(number), f" {number} "]))
        if place == "with" and not isinstance(value, str):
            value = json.dumps(value)
        if place == "with":
            with_[f.key] = value
        else:
            step[f.key] = value
    if with_:
        step["with"] = with_
    return step


# No shrinking: each example asks node, and the message names the step that differs.
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(st.lists(agent_steps(), min_size=25, max_size=25))
def test_any_agent_run_step_builds_what_the_reference_builds(steps: list[dict[str, Any]]) -> None:
    results = oracle([{"op": "AgentRun", "step": s, "runParameters": RUN} for s in steps])
    for step, found in zip(steps, results, strict=True):
        built = build(documents([step], RUN))
        if any(d.is_error for d in built.diagnostics):
            continue  # orch refuses what the reference would drop (the table above)
        if "error" in found:  # the reference throws: no implementation at all
            assert ("MissingStepField", "spec.steps[0].implementationSpecRef", "warning") \
                in built.problems
            continue
        assert built.objects["s"] == found["value"], step


def test_the_docs_hold_the_field_table() -> None:
    doc = STEP_KINDS_DOC.read_text(encoding="utf-8")
    assert with_field_table(doc) == doc, "regenerate with `make golden`"
    assert field_table() in doc


def test_the_table_cites_the_lines_that_read_each_field() -> None:
    """Each field's first cited line range, in the reference's source, reads it."""
    lines = require_mirror_file(CONTROLLER).splitlines()
    for kind, fields in READS.items():
        for f in fields:
            first = f.lines.split(",")[0]
            start, _, end = first.partition("-")
            text = "\n".join(lines[int(start) - 1:int(end or start)])
            wanted = ("step.with" if f.key == "with" else
                      f"'{kind}'" if f.target == NOTHING else f.key)
            assert wanted in text, (kind, f.key, text)
