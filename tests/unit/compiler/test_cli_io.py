"""What `orch` reads and writes at its edges (issue 10): encodings, JSON input,
`kind: List`, duplicates across files, machine output on stdout, one line per
problem, and failures of the disk or the files that never show a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compiler.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def run_doc(name: str, ref: str, **parameters: str) -> dict[str, Any]:
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
            "metadata": {"name": name},
            "spec": {"orchestrationRef": {"name": ref}, "parameters": parameters}}


# --- messages ------------------------------------------------------------------------


def test_every_problem_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Keys and values carry line breaks and control characters into messages and
    paths: each diagnostic still prints as exactly one line."""
    f = tmp_path / "lines.yaml"
    f.write_text(json.dumps({**run_doc("r", "x"),
                             "spec": {"orchestrationRef": {"name": "x"},
                                      "parameters": {"a\nb\u2028c\x85d": "1", "ok": 2}}},
                            ensure_ascii=True))
    code, _, err = run(["validate", str(f)], capsys)
    assert code == 1
    lines = err.split("\n")[:-1]
    assert len(lines) == 2 and all(line.endswith("[InvalidField]") for line in lines), err
    assert any('["a\\nb\\u2028c\\x85d"]' in line for line in lines), lines


@pytest.mark.parametrize(("document", "expected"), [
    pytest.param({"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestraton"},
                 'did you mean kind "Orchestration"?', id="kind"),
    pytest.param({"apiVersion": "orchestration.proompteng.ai/v1alpha", "kind": "OrchestrationRun"},
                 'did you mean apiVersion "orchestration.proompteng.ai/v1alpha1"?', id="api"),
    pytest.param({"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
                  "metadata": {"name": "x"}, "spec": {"steps": [
                      {"name": "a", "kind": "ToolRun", "toolRef": {"name": "t"},
                       "with": {"k": None}, "continueOnFailure": "yes", "dependsOn": [True]}]}},
                 "got null;must be true or false, got string \"yes\";got boolean true",
                 id="values-as-yaml-writes-them"),
])
def test_messages_suggest_and_quote_as_yaml_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], document: dict[str, Any],
        expected: str) -> None:
    f = tmp_path / "doc.yaml"
    f.write_text(json.dumps(document))
    code, _, err = run(["validate", str(f)], capsys)
    assert code == 1
    for part in expected.split(";"):
        assert part in err, err
    assert "None" not in err and "True" not in err


def test_an_entrypoint_named_like_a_compiler_template_is_free(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing in the output collides with it: the compiler's own template takes
    another name (the old message claimed a collision the output did not hold)."""
    f = tmp_path / "ep.yaml"
    f.write_text(json.dumps({
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
        "metadata": {"name": "ep"}, "spec": {"entrypoint": "agent-run", "steps": [
            {"name": "a", "kind": "Checkpoint"}]}}))
    code, out, err = run(["compile", str(f)], capsys)
    assert (code, err) == (0, "") and "name: agent-run\n    dag:" in out
