"""The Tool model and the rendering of its placeholders (the reference controller's
`renderTemplate`, a missing parameter an error)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from compiler.tools import Tool, Unresolved, joined, placeholder_path, render, render_tool
from tests.support.argo import SHARED, SHARED_ABSENT

SAMPLE = SHARED / "reference" / "jangar" / "charts" / "agents" / "examples" / "tool-sample.yaml"


def tool(**spec: Any) -> Tool:
    return Tool.model_validate({"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
                                "metadata": {"name": "t"}, "spec": spec})


@pytest.mark.skipif(not SAMPLE.exists(), reason=SHARED_ABSENT)
def test_the_reference_sample_renders_its_message() -> None:
    sample = Tool.model_validate(yaml.safe_load(SAMPLE.read_text()))
    rendered, problems = render_tool(sample, {"message": "orchestration complete"})
    assert problems == []
    assert [joined(c) for c in rendered.command or ()] == ["/bin/sh", "-c"]
    assert [joined(a) for a in rendered.args or ()] == ["echo orchestration complete"]
    assert rendered.args == [((False, "echo "), (True, "orchestration complete"))]


@pytest.mark.parametrize(("text", "params", "expected"), [
    pytest.param("echo {{parameters.m}}", {"m": "hi"}, "echo hi", id="plain"),
    pytest.param("{{ parameters.m }}", {"m": "hi"}, "hi", id="spaces-inside"),
    pytest.param("{{parameters . m}}", {"m": "hi"}, "hi", id="parts-trimmed"),
    pytest.param("{{parameters..m}}", {"m": "hi"}, "hi", id="empty-parts-dropped"),
    pytest.param("{{\u00a0parameters.m\ufeff}}", {"m": "hi"}, "hi", id="javascript-spaces"),
    pytest.param("{{parameters.a}}{{parameters.b}}", {"a": "1", "b": "2"}, "12", id="two"),
    pytest.param("{{parameters.m}}", {"m": ""}, "", id="empty-value"),
    pytest.param("{{parameters.m}}", {"m": "{{parameters.n}}"}, "{{parameters.n}}",
                 id="one-pass-a-value-is-not-rendered-again"),
    pytest.param("{{parameters.m}}", {"m": "$(HOME) `x` \"q\" \n"}, "$(HOME) `x` \"q\" \n",
                 id="hostile-value-unchanged"),
    pytest.param("{{}} { {x}} {{x}", {}, "{{}} { {x}} {{x}", id="not-placeholders"),
    pytest.param("{{tool.metadata.name}} {{tool.spec.args.0}}", {}, "t a0",
                 id="tool-fields-as-the-reference"),
    pytest.param("{{tool.spec.args}}", {}, '["a0"]', id="non-string-as-json"),
])
def test_render(text: str, params: dict[str, str], expected: str) -> None:
    problems: list[Unresolved] = []
    document = {"metadata": {"name": "t"}, "spec": {"args": ["a0"]}}
    assert render(text, "spec.args[0]", params, document, problems) == expected
    assert problems == []


@pytest.mark.parametrize(("text", "path", "parameter"), [
    pytest.param("{{parameters.missing}}", ("parameters", "missing"), "missing", id="parameter"),
    pytest.param("{{ parameters.m.x }}", ("parameters", "m", "x"), None, id="into-a-string"),
    pytest.param("{{toolRun.metadata.name}}", ("toolRun", "metadata", "name"), None,
                 id="no-toolrun-object"),
    pytest.param("{{workflow.name}}", ("workflow", "name"), None, id="argo-words-are-not-ours"),
    pytest.param("{{tool.spec.args.01}}", ("tool", "spec", "args", "01"), None,
                 id="javascript-array-keys"),
    pytest.param("{{ }}", (), None, id="empty"),
])
def test_unresolved_placeholders_are_named(text: str, path: tuple[str, ...],
                                           parameter: str | None) -> None:
    problems: list[Unresolved] = []
    out = render(text, "spec.command[1]", {"m": "v"}, {"spec": {"args": ["a", "b"]}}, problems)
    assert out == text  # left as written; the caller refuses the step
    assert problems == [Unresolved("spec.command[1]", text, path)]
    assert problems[0].parameter == parameter


def test_render_tool_fields_and_env() -> None:
    t = tool(image="alpine", command=["sh", "{{parameters.a}}"], args=["{{parameters.b}}"],
             env=[{"name": "X", "value": "{{parameters.a}}!"}, {"name": "", "value": "gone"}],
             workingDir="/w/{{parameters.a}}")
    rendered, problems = render_tool(t, {"a": "A"})
    assert rendered.command == [((False, "sh"),), ((True, "A"),)]
    assert [joined(a) for a in rendered.args or ()] == ["{{parameters.b}}"]
    # a nameless entry is dropped, as the reference does
    assert rendered.env == [("X", ((True, "A"), (False, "!")))]
    assert [(p.field, p.parameter) for p in problems] == [("spec.args[0]", "b")]


def test_the_model_takes_what_the_crd_takes() -> None:
    t = tool(image="i", serviceAccount="sa", timeoutSeconds=-1, ttlSecondsAfterFinished=5,
             unknownField="pruned by the apiserver")
    assert (t.spec.service_account, t.spec.timeout_seconds) == ("sa", -1)
    assert Tool.model_validate({"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
                                "metadata": {"name": "bare"}}).spec.image is None
    for bad in ({"env": [{"name": "X"}]}, {"timeoutSeconds": "30"}, {"args": "echo"},
                {"timeoutSeconds": 2**31}):
        with pytest.raises(ValidationError):
            tool(**bad)


TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
GLUE = st.text(st.characters(codec="utf-8", exclude_characters="{}"), max_size=8)


@given(st.dictionaries(st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_-]{0,8}", fullmatch=True), TEXT,
                       max_size=4), st.lists(GLUE, min_size=5, max_size=5))
def test_each_parameter_placeholder_becomes_its_value(params: dict[str, str],
                                                      glue: list[str]) -> None:
    """Text between placeholders stays as it is, each `{{parameters.K}}` becomes its
    value whatever the value holds (braces, `$(`, newlines), nothing is rendered twice."""
    keys = list(params)
    text = "".join(f"{glue[i]}{{{{parameters.{k}}}}}" for i, k in enumerate(keys)) + glue[-1]
    expected = "".join(f"{glue[i]}{params[k]}" for i, k in enumerate(keys)) + glue[-1]
    problems: list[Unresolved] = []
    assert render(text, "f", params, {}, problems) == expected
    assert problems == []


@given(st.text(max_size=40))
def test_placeholder_path_never_holds_empty_or_padded_parts(key: str) -> None:
    for part in placeholder_path(key):
        assert part and part == part.strip(" \t\n\r\f\v\u00a0\ufeff")
