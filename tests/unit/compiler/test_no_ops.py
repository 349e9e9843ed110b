"""Nothing a user writes is silently ignored (issue 21): settings that do nothing,
an input with nothing to compile and a flag that needs another each get a
diagnostic or a usage error saying what would be valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from operate.cli import main
from orchapi.api import Obj

API = "orchestration.proompteng.ai/v1alpha1"
TOOL: Obj = {"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
             "metadata": {"name": "linter"},
             "spec": {"image": "alpine:3.20", "command": ["lint"], "timeoutSeconds": 60}}


def orchestration(*steps: Obj) -> Obj:
    return {"apiVersion": API, "kind": "Orchestration", "metadata": {"name": "o"},
            "spec": {"steps": list(steps)}}


def container(**extra: Any) -> Obj:
    return {"name": "c", "kind": "Container", "image": "alpine:3.20", "command": ["true"],
            **extra}


@pytest.mark.parametrize(("docs", "path", "says"), [
    pytest.param([orchestration(container(retryBackoffSeconds=10))],
                 "spec.steps[0].retryBackoffSeconds",
                 "retryBackoffSeconds has no effect without retries: it is the wait between "
                 "attempts (set retries (how many times to try again), or remove it)",
                 id="backoff-without-retries"),
    pytest.param([orchestration(container(retries=0, retryBackoffSeconds=10))],
                 "spec.steps[0].retryBackoffSeconds",
                 "retryBackoffSeconds has no effect without retries: it is the wait between "
                 "attempts (set retries (how many times to try again), or remove it)",
                 id="backoff-with-zero-retries"),
    pytest.param([orchestration(container(timeoutSeconds=0))], "spec.steps[0].timeoutSeconds",
                 "timeoutSeconds 0 sets no timeout (remove it for no timeout, or give the "
                 "seconds the step may run (a positive number))", id="timeout-zero"),
    pytest.param([orchestration({"name": "t", "kind": "ToolRun", "toolRef": {"name": "linter"},
                                 "timeoutSeconds": 0}), TOOL],
                 "spec.steps[0].timeoutSeconds",
                 "timeoutSeconds 0 sets no timeout; the Tool's timeoutSeconds (60) does not "
                 "apply either (remove it for no timeout, or give the seconds the step may "
                 "run (a positive number))", id="timeout-zero-over-the-tools"),
    pytest.param([orchestration({"name": "t", "kind": "Template", "timeoutSeconds": 0,
                                 "templateRef": {"name": "shared", "template": "notify"}})],
                 "spec.steps[0].timeoutSeconds",
                 "timeoutSeconds 0 has no effect on a Template step: Argo takes timeoutSeconds "
                 "from the referenced WorkflowTemplate, whose own setting applies (remove it; "
                 "to change it, set retryStrategy/timeout on the template in the "
                 "WorkflowTemplate)", id="template-timeout-zero"),
    pytest.param([orchestration({"name": "t", "kind": "Template", "retries": 0,
                                 "templateRef": {"name": "shared", "template": "notify"}})],
                 "spec.steps[0].retries",
                 "retries 0 has no effect on a Template step: Argo takes retries from the "
                 "referenced WorkflowTemplate, whose own setting applies (remove it; to change "
                 "it, set retryStrategy/timeout on the template in the WorkflowTemplate)",
                 id="template-retries-zero"),
])
def test_a_setting_that_does_nothing_is_a_warning(
        docs: list[Obj], path: str, says: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "in.yaml"
    f.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    assert main(["compile", str(f)]) == 0
    (line,) = capsys.readouterr().err.splitlines()
    assert line.split(": ", 1)[1] == f"warning: {path}: {says} [InvalidField]"


@pytest.mark.parametrize("extra", [
    pytest.param({"retries": 2, "retryBackoffSeconds": 10}, id="backoff-with-retries"),
    pytest.param({"timeoutSeconds": 30}, id="a-timeout"),
])
def test_a_setting_that_does_something_is_not_warned_about(
        extra: Obj, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "in.yaml"
    f.write_text(yaml.safe_dump(orchestration(container(**extra))))
    assert main(["compile", str(f)]) == 0
    assert capsys.readouterr().err == ""


def test_a_file_with_only_a_tool_compiles_to_nothing_and_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "tool.yaml"
    f.write_text(yaml.safe_dump(TOOL))
    assert main(["compile", str(f)]) == 2
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", (
        "orch: error: nothing to compile: the input holds no Orchestration (1 Tool); orch "
        "compiles Orchestrations and their runs, and a Tool into the ToolRun steps that "
        "name it\n"))
    assert main(["validate", str(f)]) == 0
    assert capsys.readouterr().err == (
        "1 document(s) valid (no Orchestration: nothing to compile)\n")


def test_plan_rerun_without_resume_from_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "o.yaml"
    f.write_text(yaml.safe_dump(orchestration(container())))
    assert main(["plan", str(f), "--rerun", "c"]) == 2
    assert capsys.readouterr().err == (
        "orch: error: --rerun needs --resume-from RUN.yaml: it names steps of the run being "
        "resumed to run again\n")
