"""The name grammars (orchapi.names), each against its source's own examples,
and every user-written name field refused with `InvalidField` and its grammar
(issue 9 §1). Each row names the field and what would have reached Argo."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.diagnostics import Collector
from compiler.emit import emit_workflow
from compiler.inputs import pair_runs, parse_text
from orchapi.names import (
    DNS_SUBDOMAIN_NAME,
    ENV_VAR_NAME,
    IMAGE,
    NAMESPACE,
    PARAMETER,
    TEMPLATE,
    WORKFLOW_TEMPLATE_NAME,
    Grammar,
    label_value,
    quote,
)
from orchapi.vocabulary import Reason

# (grammar, accepted, refused): the accepted ones include the examples in the
# source's own error messages (IsEnvVarName: "my.env-name", "MY_ENV.NAME",
# "MyEnvName1"; Argo: "my_param_1", "MY-PARAM-1", "My-name1-2", "123-NAME") and
# distribution/reference's test cases.
GRAMMARS = [
    pytest.param(ENV_VAR_NAME, ["my.env-name", "MY_ENV.NAME", "MyEnvName1", "_x", "-", ".a"],
                 ["1x", "a b", "a=b", ".", "..", "..a", "{{workflow.name}}", "x\n", "é", ""],
                 id="env-var-name"),
    pytest.param(PARAMETER, ["my_param_1", "MY-PARAM-1", "1", "_"],
                 ["a.b", "a b", "{{x}}", "x\n", "", "ü"], id="parameter"),
    pytest.param(TEMPLATE, ["My-name1-2", "123-NAME", "main", "a" * 128],
                 ["-a", "a_b", "a" * 129, "main\n", "{{x}}", ""], id="template"),
    pytest.param(DNS_SUBDOMAIN_NAME, ["a", "a.b-c", "0", "a" * 253],
                 ["A", "a_b", "-a", "a-", "a" * 254, "a\n", "{{x}}"], id="object-name"),
    pytest.param(WORKFLOW_TEMPLATE_NAME, ["shared-steps", "a" * 63],
                 ["a" * 64, "Shared", "{{workflow.name}}"], id="workflowtemplate-name"),
    pytest.param(NAMESPACE, ["default", "team-a", "a" * 63],
                 ["team.a", "Team", "a" * 64, "a\n", ""], id="namespace"),
    pytest.param(IMAGE, [
        "alpine", "alpine:3.20", "docker.io/library/alpine:3.20", "localhost:5000/a/b_c__d",
        "ghcr.io/proompteng/orch@sha256:" + "a" * 64, "a.b-c/d:tag_1.0-x", "[::1]:5000/x",
        "registry.example.com:443/team/app:v1@sha256:" + "0" * 64,
    ], ["Alpine", "alpine:", ":tag", "a//b", "a b", "alpine\n", "{{workflow.name}}", "a" * 64,
        "alpine:" + "t" * 129, "a/" + "b" * 260, "-a", "a@sha256:abc", ""], id="image"),
]


@pytest.mark.parametrize(("grammar", "good", "bad"), GRAMMARS)
def test_grammar_accepts_and_refuses(grammar: Grammar, good: list[str], bad: list[str]) -> None:
    assert [v for v in good if grammar.problem(v)] == []
    assert [v for v in bad if grammar.problem(v) is None] == []


ALL = [ENV_VAR_NAME, PARAMETER, TEMPLATE, DNS_SUBDOMAIN_NAME, WORKFLOW_TEMPLATE_NAME, NAMESPACE,
       IMAGE]


@pytest.mark.parametrize("grammar", ALL)
def test_grammar_message_names_the_rule_and_its_source(grammar: Grammar) -> None:
    problem = grammar.problem("{{x}}")
    assert problem is not None and grammar.source in problem and grammar.what in problem


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="{}$()'\"\n\x85 .-_aZ9:/@", max_size=20))
def test_no_grammar_admits_a_brace_or_a_line_break(value: str) -> None:
    for grammar in ALL:
        if grammar.problem(value) is None:
            assert not set(value) & set("{}$()'\"\n\x85 "), (grammar.what, value)


def test_label_value_of_a_name_with_a_newline_is_a_valid_label() -> None:
    assert label_value("x\n") != "x\n"  # `$` matched before a final newline
    assert label_value("-abc").isalnum()


def test_quote_escapes_what_a_terminal_would_hide() -> None:
    assert quote('a"\n\x85\u2028\x7f') == '"a\\"\\n\\u0085\\u2028\\u007f"'


def _doc(steps: list[dict[str, Any]], **meta: str) -> dict[str, Any]:
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
            "metadata": {"name": "o", **meta}, "spec": {"steps": steps}}


def _run(parameters: dict[str, str], **meta: str) -> dict[str, Any]:
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
            "metadata": {"name": "r", **meta},
            "spec": {"orchestrationRef": {"name": "o"}, "parameters": parameters}}


def problems(*docs: dict[str, Any]) -> list[tuple[str, str]]:
    """(reason, path) of every error, compiling runs with their Orchestration."""
    parsed = parse_text(yaml.safe_dump_all(docs), "t.yaml")
    found = [d for d in parsed.diagnostics if d.is_error]
    if parsed.ok:
        for _, orch, run in pair_runs(parsed):
            out = Collector()
            emit_workflow(orch, run, out)
            found += [d for d in out.items if d.is_error]
    return [(str(d.reason), str(d.path)) for d in found]


CONTAINER = {"name": "c", "kind": "Container", "image": "alpine"}
TEMPLATE_STEP = {"name": "t", "kind": "Template",
                 "templateRef": {"name": "shared", "template": "notify"}}
INVALID = str(Reason.INVALID_FIELD)

# Each of these reached the Workflow unchanged before (issue 9 §1 reproduced them).
FIELDS = [
    pytest.param(_doc([{**CONTAINER, "env": [{"name": "{{workflow.name}}", "value": "v"}]}]),
                 "spec.steps[0].env[0].name", id="env-name"),
    pytest.param(_doc([{**CONTAINER, "with": {"{{=sprig.repeat(100000000,'x')}}": "v"}}]),
                 "spec.steps[0].with[\"{{=sprig.repeat(100000000,'x')}}\"]",
                 id="container-with-key"),
    pytest.param(_doc([{**CONTAINER, "with": {"1x": "v"}}]), "spec.steps[0].with.1x",
                 id="container-with-key-not-an-env-name"),
    pytest.param(_doc([{**TEMPLATE_STEP, "with": {"a.b": "v"}}]), 'spec.steps[0].with["a.b"]',
                 id="template-with-key"),
    pytest.param(_doc([{"name": "a", "kind": "ToolRun", "toolRef": {"name": "t"},
                        "with": {"{{x}}": "v"}}]), 'spec.steps[0].with["{{x}}"]',
                 id="toolrun-with-key"),
    pytest.param(_doc([{**CONTAINER, "image": "{{workflow.name}}"}]), "spec.steps[0].image",
                 id="image"),
    pytest.param(_doc([{**TEMPLATE_STEP, "templateRef": {"name": "{{workflow.name}}",
                                                         "template": "t"}}]),
                 "spec.steps[0].templateRef.name", id="templateref-name"),
    pytest.param(_doc([{**TEMPLATE_STEP, "templateRef": {"name": "w",
                                                         "template": "{{=sprig.x()}}"}}]),
                 "spec.steps[0].templateRef.template", id="templateref-template"),
    pytest.param(_doc([{**TEMPLATE_STEP, "with": {"text": "hi {{workflow.name}}"}}]),
                 "spec.steps[0].with.text", id="template-with-value"),
    pytest.param(_doc([CONTAINER], namespace="Team_A"), "metadata.namespace",
                 id="orchestration-namespace"),
    pytest.param(_doc([CONTAINER], name="o\n"), "metadata.name", id="name-with-newline"),
]


@pytest.mark.parametrize(("doc", "path"), FIELDS)
def test_user_name_fields_are_refused_with_invalid_field(doc: dict[str, Any], path: str) -> None:
    assert (INVALID, path) in problems(doc)


RUNS = [
    pytest.param(_doc([TEMPLATE_STEP]), _run({"text": "{{workflow.uid}}"}),
                 "spec.parameters.text", id="run-parameter-reaches-template"),
    pytest.param(_doc([{**TEMPLATE_STEP, "with": {"text": "x"}}]),
                 _run({"text": "{{workflow.uid}}"}), "spec.parameters.text",
                 id="run-parameter-is-a-global-parameter-of-the-template"),
    pytest.param(_doc([CONTAINER]), _run({"1x": "v"}), "spec.parameters.1x",
                 id="run-parameter-becomes-an-env-name"),
    pytest.param(_doc([CONTAINER]), _run({"x": "v"}, namespace="a.b"),
                 "metadata.namespace", id="run-namespace"),
]


@pytest.mark.parametrize(("orch", "run", "path"), RUNS)
def test_run_parameters_are_judged_against_the_steps_they_reach(
        orch: dict[str, Any], run: dict[str, Any], path: str) -> None:
    assert problems(orch, run) == [(INVALID, path)]


def test_braces_in_values_are_carried_everywhere_but_template_steps() -> None:
    agent = {"name": "a", "kind": "AgentRun", "agentRef": {"name": "x"},
             "implementationSpecRef": {"name": "i"}, "with": {"t": "{{workflow.name}}"}}
    assert problems(_doc([agent, {**CONTAINER, "args": ["{{x}}"]}]),
                    _run({"p": "{{workflow.uid}}"})) == []


# --- a non-ASCII lookalike is named as one (issue 21) ------------------------------------

CYRILLIC_I = "\u0456"  # looks exactly like "i"


def test_a_step_name_with_a_lookalike_says_it_is_a_non_ascii_lookalike() -> None:
    from orchapi.names import task_name_problem

    assert task_name_problem(f"bu{CYRILLIC_I}ld") == (
        f'holds "{CYRILLIC_I}" (U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I), '
        'a non-ASCII lookalike of "i", at position 3; a task name holds only ASCII letters, '
        "digits and '-', starting with a letter")
    assert "non-ASCII character, at position 2" in (task_name_problem("a\u4e2d") or "")
    assert task_name_problem("build") is None


def test_did_you_mean_points_out_the_lookalike() -> None:
    """`dependsOn: [build]` where the step is named with a Cyrillic i (U+0456): the
    hint said "did you mean" that name, which reads as the very name written."""
    from compiler.validate import check_dependencies

    out = Collector()
    steps = [{"name": f"bu{CYRILLIC_I}ld", "kind": "Checkpoint"},
             {"name": "test", "kind": "Checkpoint", "dependsOn": ["build", "tset"]}]
    check_dependencies(steps, {f"bu{CYRILLIC_I}ld": 0, "test": 1}, out)
    (lookalike, plain) = [d for d in out.items if d.reason is Reason.MISSING_DEPENDENCY]
    assert lookalike.hint == (
        f'did you mean "bu{CYRILLIC_I}ld"? It is not "build": it holds "{CYRILLIC_I}" '
        "(U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I), a non-ASCII lookalike of "
        '"i", at position 3')
    assert plain.hint == 'did you mean "test"?'
