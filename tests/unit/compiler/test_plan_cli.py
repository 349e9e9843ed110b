"""`orch plan` and `orch graph` through `operate.cli.main`: exit codes 0/1/2,
the exact JSON shape, and the text a person reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from operate.cli import main
from tests.unit.compiler.release import release_pipeline

RELEASE = release_pipeline()


@pytest.fixture
def release(tmp_path: Path) -> str:
    path = tmp_path / "release.yaml"
    path.write_text(RELEASE)
    return str(path)


def test_plan_json_exact_shape(release: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", release, "--fail", "test,lint", "-o", "json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == {
        "phase": "Failed",
        "steps": [
            {"name": "checkout", "phase": "Succeeded", "reason": None},
            {"name": "build", "phase": "Succeeded", "reason": None},
            {"name": "lint", "phase": "Failed", "reason": "FailureIgnored"},
            {"name": "docs", "phase": "Succeeded", "reason": None},
            {"name": "test", "phase": "Failed", "reason": "StepFailed"},
            {"name": "publish", "phase": "Skipped", "reason": "DependencyFailed"},
        ],
    }
    assert out.err == ""


def test_plan_error_and_repeated_flags(release: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", release, "--error", "lint", "--fail", "build", "-o", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    steps = {s["name"]: (s["phase"], s["reason"]) for s in result["steps"]}
    assert steps["lint"] == ("Failed", "StepError")
    assert steps["docs"] == ("Skipped", "DependencyFailed")
    assert steps["test"] == ("Skipped", "DependencyFailed")


def test_plan_without_failures_succeeds(release: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", release, "-o", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["phase"] == "Succeeded"
    assert {s["phase"] for s in result["steps"]} == {"Succeeded"}


def test_plan_text_table(release: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", release, "--fail", "test"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "release: Failed"
    assert lines[1].split() == ["STEP", "PHASE", "REASON", "WHY"]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[2:8]}
    assert rows["test"] == ["Failed", "StepFailed"]
    assert rows["publish"] == ["Skipped", "DependencyFailed"]
    assert rows["checkout"] == ["Succeeded", "-"]
    # columns line up: every row's PHASE starts where the header's does
    column = lines[1].index("PHASE")
    assert all(line[column - 2:column] == "  " and line[column] != " " for line in lines[2:8])
    assert lines[8].startswith("run: Failed [StepsFailed]")


@pytest.mark.parametrize(("argv", "expected"), [
    pytest.param(["--fail", "tset"], 'did you mean "test"?', id="fail-unknown-step"),
    pytest.param(["--error", "buidl"], 'did you mean "build"?', id="error-unknown-step"),
    pytest.param(["--fail", "test", "--error", "test"], "both --fail and --error",
                 id="fail-and-error-same-step"),
])
def test_plan_usage_errors(release: str, argv: list[str], expected: str,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", release, *argv]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("orch: error: ") and expected in out.err


def test_plan_unreadable_file_is_usage_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_plan_invalid_input_exit_1_with_diagnostics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(RELEASE.replace("dependsOn: [build]", "dependsOn: [biuld]"))
    assert main(["plan", str(path), "--fail", "test"]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert "[MissingDependency]" in out.err and f"{path}:" in out.err


def test_several_orchestrations_need_a_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(RELEASE + "---\n" + RELEASE.replace("name: release", "name: nightly"))
    assert main(["plan", str(path)]) == 2
    assert "--orchestration NAME or NAMESPACE/NAME" in capsys.readouterr().err
    assert main(["plan", str(path), "--orchestration", "nightly", "--fail", "build"]) == 0
    assert capsys.readouterr().out.startswith("nightly: Failed")
    assert main(["plan", str(path), "--orchestration", "nightlyy"]) == 2
    assert 'did you mean "nightly"?' in capsys.readouterr().err


def test_graph_text_marks_planned_phases(release: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", release, "--fail", "test"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "release: 6 steps, 6 edges (DAG)"
    publish = next(line for line in lines if line.split()[0] == "publish")
    assert "after test, docs" in publish and publish.endswith("=> Skipped: DependencyFailed")


@pytest.mark.parametrize("fmt", ["mermaid", "dot", "text"])
def test_graph_formats_exit_0_and_draw_every_step(
    release: str, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["graph", release, "--format", fmt]) == 0
    out = capsys.readouterr().out
    for name in ("checkout", "build", "lint", "docs", "test", "publish"):
        assert name in out


def test_graph_unknown_fail_step_is_usage_error(release: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", release, "--fail", "publsh"]) == 2
    assert 'did you mean "publish"?' in capsys.readouterr().err


def test_orchestration_flag_takes_a_namespace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two Orchestrations of one name in two namespaces: NAME is ambiguous and
    says so, NAMESPACE/NAME picks one."""
    path = tmp_path / "two.yaml"
    path.write_text(
        RELEASE.replace("metadata: {name: release}", "metadata: {name: release, namespace: a}")
        + "---\n"
        + RELEASE.replace("metadata: {name: release}", "metadata: {name: release, namespace: b}")
        .replace("dependsOn: [build]", "dependsOn: [lint]"))
    assert main(["plan", str(path), "--orchestration", "release"]) == 2
    err = capsys.readouterr().err
    assert "2 Orchestrations (a/release, b/release)" in err and "NAMESPACE/NAME" in err
    assert main(["plan", str(path), "--orchestration", "b/release", "--fail", "lint",
                 "-o", "json"]) == 0
    steps = {s["name"]: s["reason"] for s in json.loads(capsys.readouterr().out)["steps"]}
    assert steps["test"] is None  # in b, test waits for lint, whose failure is ignored
    assert main(["graph", str(path), "--orchestration", "a/release"]) == 0
    assert "after build" in capsys.readouterr().out
    assert main(["plan", str(path), "--orchestration", "a/relase"]) == 2
    assert 'did you mean "a/release"?' in capsys.readouterr().err


def test_graph_error_like_plan(release: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`graph --error` marks an infrastructure error as `plan --error` does:
    continueOnFailure does not cover it."""
    assert main(["graph", release, "--error", "lint"]) == 0
    lines = capsys.readouterr().out.splitlines()
    lint = next(line for line in lines if line.split()[0] == "lint")
    docs = next(line for line in lines if line.split()[0] == "docs")
    assert lint.endswith("=> Failed: StepError")
    assert docs.endswith("=> Skipped: DependencyFailed")
    assert main(["graph", release, "--error", "lnit"]) == 2
    assert 'did you mean "lint"?' in capsys.readouterr().err


# --- plan and graph judge the input as compile does (issue 21) ---------------------

TOOL_RUN = """\
apiVersion: orchestration.proompteng.ai/v1alpha1
kind: Orchestration
metadata: {name: lint}
spec:
  steps:
    - {name: checkout, kind: Container, image: busybox, command: ["true"]}
    - {name: lint, kind: ToolRun, toolRef: {name: linter}}
"""


@pytest.mark.parametrize("command", [["compile"], ["validate"], ["plan"], ["graph"]])
def test_a_missing_tool_is_refused_by_every_command(
        command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`orch plan` and `orch graph` drew a ToolRun whose Tool is missing while
    `orch compile` refused it: they judge the input as compile does."""
    path = tmp_path / "lint.yaml"
    path.write_text(TOOL_RUN)
    assert main([*command, str(path)], cluster=False) == 1  # the compiler's own words
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == (f'{path}:7: spec.steps[1].toolRef.name: Tool "linter" is not in the '
                       "input (add the Tool (tools.proompteng.ai/v1alpha1) to the input) "
                       "[ToolNotFound]\n")


def test_the_missing_tool_names_the_flag_that_reads_it_from_the_cluster(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through `orch` (with the cluster commands), the hint names
    `--tools-from-cluster`."""
    from operate.cli import main as orch

    path = tmp_path / "lint.yaml"
    path.write_text(TOOL_RUN)
    assert orch(["plan", str(path)]) == 1
    assert capsys.readouterr().err.endswith(
        "(add the Tool (tools.proompteng.ai/v1alpha1) to the input, or pass "
        "--tools-from-cluster to read it from the current kube context's cluster) "
        "[ToolNotFound]\n")
