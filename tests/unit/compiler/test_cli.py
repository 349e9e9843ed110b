"""The `orch` command line: exit codes, streams, formats (contract §2.3)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from operate.cli import main
from tests.golden import INVALID, VALID, inputs, policy_flags

DIAMOND = VALID / "diamond.yaml"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_compile_writes_argo_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["compile", str(DIAMOND)], capsys)
    assert (code, err) == (0, "")
    (workflow,) = yaml.safe_load_all(out)
    assert workflow["kind"] == "Workflow"
    assert workflow["metadata"]["generateName"] == "diamond-"


def test_compile_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["compile", "-o", "json", str(DIAMOND)], capsys)
    assert code == 0
    assert json.loads(out)["spec"]["entrypoint"] == "main"


def test_compile_several_files_separates_documents(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["compile", str(DIAMOND), str(VALID / "sequential.yaml")], capsys)
    assert code == 0
    assert out.count("\n---\n") == 1
    assert [d["metadata"]["generateName"] for d in yaml.safe_load_all(out)] == [
        "diamond-",
        "sequential-",
    ]


def test_compile_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(DIAMOND.read_text()))
    code, out, _ = run(["compile", "-"], capsys)
    assert code == 0 and "kind: Workflow" in out


def test_stdin_diagnostics_name_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        sys, "stdin", io.StringIO((INVALID / "missing-dependency.yaml").read_text())
    )
    code, out, err = run(["compile", "-"], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(
        '<stdin>:7: spec.steps[1].dependsOn[0]: step "tset" does not exist '
        '(did you mean "test"?) [MissingDependency]'
    )


def test_invalid_input_exits_1_and_writes_nothing_to_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(["compile", str(DIAMOND), str(INVALID / "cycle.yaml")], capsys)
    assert (code, out) == (1, "")
    assert err.count("[DependencyCycle]") == 2


def test_validate_reports_every_file(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in INVALID.glob("*.yaml"))
    code, out, err = run(["validate", "--max-steps", "200", *files], capsys)  # too-many-steps
    assert (code, out) == (1, "")
    reported = {line.split(":")[0] for line in err.splitlines()}
    assert reported == set(files)


def test_validate_json_carries_columns_and_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate", "-o", "json", str(INVALID / "missing-dependency.yaml")],
                         capsys)
    assert (code, err) == (1, "")  # machine output on stdout, nothing else
    first = json.loads(out)[0]
    assert first | {"file": None} == {
        "file": None,
        "line": 7,
        "column": 52,
        "document": 0,
        "path": "spec.steps[1].dependsOn[0]",
        "severity": "error",
        "reason": "MissingDependency",
        "message": 'step "tset" does not exist',
        "hint": 'did you mean "test"?',
        "names": ["tset"],
    }


def test_validate_valid_files(capsys: pytest.CaptureFixture[str]) -> None:
    """Every valid case, selected by what it is (an input beside its output): the
    glob `*[!o].yaml` used here silently dropped any case whose name ends in o."""
    cases = inputs(VALID)
    outputs = {p.name.removesuffix(".argo.yaml") for p in VALID.glob("*.argo.yaml")}
    assert {p.stem for p in cases} == outputs
    plain = [str(c) for c in cases if not policy_flags(c)]
    code, out, _err = run(["validate", *plain], capsys)
    assert code == 0 and out == ""
    for case in cases:  # each under its own pod policy (tests/golden.py)
        if policy_flags(case):
            code, out, _err = run(["validate", *policy_flags(case), str(case)], capsys)
            assert code == 0 and out == "", case


def test_warnings_do_not_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "w.yaml"
    f.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "orchestration.proompteng.ai/v1alpha1",
                "kind": "Orchestration",
                "metadata": {"name": "w"},
                "spec": {"steps": [{"name": "a", "kind": "AgentRun", "agentRef": {"name": "x"}}]},
            }
        )
    )
    code, out, err = run(["compile", str(f)], capsys)
    assert code == 0 and out
    assert "warning:" in err and "[MissingStepField]" in err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([], id="no-command"),
        pytest.param(["compile"], id="no-file"),
        pytest.param(["compile", "-o", "xml", "x.yaml"], id="bad-format"),
        pytest.param(["frobnicate"], id="unknown-command"),
        pytest.param(["compile", "/nonexistent/file.yaml"], id="unreadable-file"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        sys.exit(main(argv))
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_directory_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["compile", str(tmp_path)], capsys)
    assert code == 2 and "cannot read" in err


def test_real_process_never_shows_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe not utf-16 \x00")  # odd length after a UTF-16 BOM
    for path, expected in (
        (bad, 1),
        (tmp_path / "missing.yaml", 2),
        (INVALID / "malformed-yaml.yaml", 1),
        (INVALID / "empty.yaml", 1),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "operate", "compile", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == expected, proc.stderr
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") >= 1


def test_entrypoint_never_shares_a_name_with_a_step_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tool-t-retry3` is a valid entrypoint and also the name a ToolRun of Tool
    `t` with three retries would get: the step's template must take another name."""
    f = tmp_path / "ep.yaml"
    f.write_text(yaml.safe_dump_all([{
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
        "metadata": {"name": "ep"},
        "spec": {"entrypoint": "tool-t-retry3", "steps": [
            {"name": "a", "kind": "ToolRun", "toolRef": {"name": "t"}, "retries": 3}]}}, {
        "apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool", "metadata": {"name": "t"},
        "spec": {"image": "alpine:3.20", "command": ["true"]}}]))
    code, out, _ = run(["compile", str(f)], capsys)
    assert code == 0
    names = [t["name"] for t in yaml.safe_load(out)["spec"]["templates"]]
    assert len(names) == len(set(names)) and names[0] == "tool-t-retry3"
