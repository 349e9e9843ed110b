"""Reading YAML text: bounded alias expansion (as Kubernetes' own reader bounds
it), documents one at a time in constant memory, and documents read again from
their place in the text exactly as they were read the first time."""

from __future__ import annotations

import contextlib
import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.batch import compile_texts
from compiler.diagnostics import Diagnostic, FieldPath, Span
from compiler.emit import EmitSettings, emit_workflow
from compiler.inputs import pair_runs, parse_text
from compiler.render import to_yaml
from compiler.source import (
    MAX_ALIAS_TEXT,
    Document,
    allowed_alias_ratio,
    iter_documents,
    load_documents,
    reparse,
)
from operate.cli import main
from tests.unit.compiler.strategies import dags


def bomb(levels: int, width: int = 10) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [9, 12])
def test_an_alias_bomb_is_refused_at_its_line(levels: int) -> None:
    """10^levels strings from a few hundred bytes: refused where the expansion
    passes go-yaml's limit, after as many values as the limit allows, not after
    all of them. a0..a2 expand to 1,237 values, 1,220 of them from aliases (98.8%,
    under 99%); a3's first item, the alias *a2, pushes the share over 99% at its
    1,882nd aliased value of 1,901: the same point for 10^9 and 10^12, so the
    work is bounded by the limit, not the bomb (instead of a wall-clock bound)."""
    text = "x: 1\n---\n" + bomb(levels) + "---\ny: 2\n"
    docs, problems = load_documents(text, "bomb.yaml")
    (problem,) = problems
    a3 = text.splitlines().index(next(x for x in text.splitlines() if x.startswith("a3:")))
    assert (problem.reason, problem.document, str(problem.path)) == ("InvalidYAML", 1, "a3[0]")
    # the line of a3, at its value (the sequence holding the alias)
    assert problem.span == Span("bomb.yaml", a3 + 1, text.splitlines()[a3].index("&a3") + 1)
    assert "(1882 of the first 1901 come from aliases" in problem.message
    assert "excessive aliasing" in problem.message
    assert [d.data for d in docs] == [{"x": 1}, {"y": 2}]  # the documents around it are read


def test_go_yaml_alias_ratio() -> None:
    assert allowed_alias_ratio(1000) == 0.99
    assert allowed_alias_ratio(400_000) == 0.99
    assert allowed_alias_ratio(2_200_000) == pytest.approx(0.545)
    assert allowed_alias_ratio(10**7) == 0.10


def test_aliases_within_the_limits_are_expanded() -> None:
    text = ("env: &env [{name: A, value: '1'}, {name: B, value: '2'}]\n"
            "steps:\n" + "".join(f"- {{name: s{i}, env: *env}}\n" for i in range(200)))
    (doc,), problems = load_documents(text, "ok.yaml")
    assert problems == []
    assert all(s["env"] == doc.data["env"] for s in doc.data["steps"])


def test_aliases_of_long_text_are_bounded_by_size() -> None:
    big = "x" * (MAX_ALIAS_TEXT // 4 + 1)
    text = f"a: &a '{big}'\nb: [*a, *a, *a, *a]\n"
    docs, (problem,) = load_documents(text, "big.yaml")
    assert docs == [] and "MiB of text" in problem.message
    (doc,), problems = load_documents(f"a: &a '{big}'\nb: [*a, *a]\n", "fine.yaml")
    assert problems == [] and doc.data["b"] == [big, big]


def test_documents_are_read_one_at_a_time() -> None:
    """The first document is given before the rest of the text is even parsed."""
    stream = iter_documents("a: 1\n---\n[unclosed\n", "s.yaml")
    first = next(stream)
    assert isinstance(first, Document) and first.data == {"a": 1}
    rest = list(stream)
    assert len(rest) == 1 and isinstance(rest[0], Diagnostic)


def test_a_document_is_read_again_exactly_from_its_place() -> None:
    text = ("# lead\nx: 1\n---\n  indented: &i\n    deep: [1, 2]\n  alias: *i\n"
            "--- !!map\n? complex\n: é\n---\n{flow: [a, b]}\n")
    for doc in (d for d in iter_documents(text, "t.yaml") if isinstance(d, Document)):
        assert doc.origin is not None
        again = reparse(text, "t.yaml", doc.index, doc.origin)
        assert again is not None and again.data == doc.data
        for path in (FieldPath(), *(FieldPath((k,)) for k in doc.data)):
            assert again.span(path) == doc.span(path)


def test_a_document_that_needs_its_directives_is_read_from_the_start() -> None:
    text = "a: 1\n...\n%TAG !e! tag:yaml.org,2002:\n--- !e!map\nb: !e!str 2\n"
    (_, second) = (d for d in iter_documents(text, "t.yaml") if isinstance(d, Document))
    assert second.origin is not None
    again = reparse(text, "t.yaml", second.index, second.origin)
    assert again is not None and again.data == {"b": "2"} == second.data


def _documents(orchestrations: list[dict[str, Any]], runs: list[bool]) -> str:
    docs: list[dict[str, Any]] = []
    for i, (orch, with_run) in enumerate(zip(orchestrations, runs, strict=True)):
        orch["metadata"]["name"] = f"o{i % 3}"  # some names repeat: duplicates
        run = {"apiVersion": orch["apiVersion"], "kind": "OrchestrationRun",
               "metadata": {"name": f"r{i}"},
               "spec": {"orchestrationRef": {"name": f"o{(i + 1) % 4}"}, "parameters": {"p": "v"}}}
        docs += [run, orch] if with_run and i % 2 else [orch, run] if with_run else [orch]
    # The Tool the strategies' ToolRun steps name, after the Orchestrations using it.
    docs.append({"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
                 "metadata": {"name": "tool"}, "spec": {"image": "alpine", "args": ["x"]}})
    return yaml.safe_dump_all(docs, sort_keys=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(dags(max_steps=6), min_size=1, max_size=5).flatmap(
    lambda os: st.tuples(st.just(os), st.lists(st.booleans(), min_size=len(os),
                                               max_size=len(os)))))
def test_streaming_gives_what_reading_everything_gives(
        case: tuple[list[dict[str, Any]], list[bool]]) -> None:
    """`compiler.batch` (the CLI's streaming path, which parses runs and their
    Orchestrations again) and `parse_text` + `pair_runs` (every model kept)
    produce the same problems and the same Workflows."""
    text = _documents(*case)
    batch = compile_texts([("in.yaml", text)], lambda wf: to_yaml([wf]))
    inputs = parse_text(text, "in.yaml")
    settings = EmitSettings(tools=inputs.tools_in(None))
    workflows = [to_yaml([emit_workflow(orch, run, settings=settings).workflow])
                 for _, orch, run in pair_runs(inputs)]
    key = sorted(map(str, batch.diagnostics))
    assert key == sorted(map(str, inputs.diagnostics))
    if batch.ok:
        assert [t for u in batch.units for t in u.texts] == workflows


def _validate_peak(documents: int, tmp_path: Path) -> int:
    """Peak memory of `orch validate` of one file of `documents` documents."""
    one = ("apiVersion: orchestration.proompteng.ai/v1alpha1\nkind: Orchestration\n"
           "metadata: {name: o%d}\nspec:\n  steps:\n  - {name: a, kind: Checkpoint}\n"
           "  - {name: b, kind: Container, image: alpine, dependsOn: [a]}\n")
    path = tmp_path / f"{documents}.yaml"
    path.write_text("---\n".join(one % i for i in range(documents)))
    tracemalloc.start()
    try:
        with contextlib.redirect_stderr(io.StringIO()) as err:
            assert main(["validate", str(path)]) == 0
        assert err.getvalue() == f"{documents} document(s) valid\n"
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_validating_more_documents_does_not_take_more_memory_per_document(
        tmp_path: Path) -> None:
    """What stays once each document is judged: its name and place (to find
    duplicates and pair runs), not its data, node tree or model. The text itself
    (about 200 bytes per document here) is held once."""
    small, large = _validate_peak(1000, tmp_path), _validate_peak(4000, tmp_path)
    per_document = (large - small) / 3000
    print(f"{per_document:.0f} bytes per document")
    assert per_document < 1500, f"{per_document:.0f} bytes kept per document"


# --- JSON is read as kubectl reads a JSON file: every character kept -------------------

# Strings where YAML and JSON part ways: YAML's line breaks (NEL, U+2028, U+2029)
# between spaces, what YAML refuses raw (DEL, C1, U+FFFE), and anything else.
_JSON_TRICKY = st.sampled_from([" ", "\t", "\x85", "\u2028", "\u2029", "\x7f", "\x9f",
                                "\ufeff", "\ufffe", "\uffff", "\u00a0", "a", "#", ":", "'"])
_json_text = st.lists(st.one_of(_JSON_TRICKY, st.characters(exclude_categories=["Cs"])),
                      max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_json_text, _json_text, max_size=4), st.booleans(), st.booleans())
def test_json_reads_as_a_json_decoder_reads_it(values: dict[str, str], ascii_: bool,
                                                indent: bool) -> None:
    """kubectl reads a file that starts with `{` with a JSON decoder (apimachinery's
    YAMLOrJSONDecoder), so every string arrives as written; before, a raw U+2028 or
    U+2029 lost the spaces around it (`"a \\u2028 b"` -> `"a\\u2028b"`, issue 21)."""
    body = {"kind": "Orchestration", "spec": {"parameters": values, "list": list(values)}}
    text = json.dumps(body, ensure_ascii=ascii_, indent=1 if indent else None)
    (doc,) = iter_documents(text, "f.json")
    assert isinstance(doc, Document) and not doc.problems
    assert doc.data == json.loads(text)


def test_json_keeps_the_spaces_around_a_unicode_line_break() -> None:
    text = '{"kind": "Orchestration", "spec": {"v": "a \u2028 b \u2029 c"}}'
    (doc,) = iter_documents(text, "f.json")
    assert isinstance(doc, Document) and doc.data["spec"]["v"] == "a \u2028 b \u2029 c"
