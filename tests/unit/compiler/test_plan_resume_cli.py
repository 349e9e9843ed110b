"""`orch plan FILE --resume-from RUN.yaml`: the resume decision offline, from a run
saved with `kubectl get orchestrationrun NAME -o yaml`; refusals as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.cli import main

RELEASE = """\
apiVersion: orchestration.proompteng.ai/v1alpha1
kind: Orchestration
metadata: {name: release, generation: 3}
spec:
  steps:
    - {name: checkout, kind: Container, image: busybox}
    - {name: build, kind: Container, image: busybox, dependsOn: [checkout]}
    - {name: lint, kind: Container, image: busybox, dependsOn: [checkout], continueOnFailure: true}
    - {name: docs, kind: Container, image: busybox, dependsOn: [lint]}
    - {name: test, kind: Container, image: busybox, dependsOn: [build]}
    - {name: publish, kind: Container, image: busybox, dependsOn: [test, docs]}
"""
OLD = """\
apiVersion: orchestration.proompteng.ai/v1alpha1
kind: OrchestrationRun
metadata: {name: release-x1, namespace: ci}
spec: {orchestrationRef: {name: release}}
status:
  phase: Failed
  orchestrationGeneration: 3
  stepStatuses:
  - {name: checkout, kind: Container, phase: Succeeded}
  - {name: build, kind: Container, phase: Succeeded}
  - {name: lint, kind: Container, phase: Failed, reason: FailureIgnored}
  - {name: docs, kind: Container, phase: Succeeded}
  - {name: test, kind: Container, phase: Failed, reason: StepFailed}
  - {name: publish, kind: Container, phase: Skipped, reason: DependencyFailed}
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "release.yaml").write_text(RELEASE)
    (tmp_path / "old.yaml").write_text(OLD)
    return str(tmp_path / "release.yaml"), str(tmp_path / "old.yaml")


def test_plan_shows_what_is_reused_and_why_the_rest_reruns(
        files: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    release, old = files
    assert main(["plan", release, "--resume-from", old]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "release resumed from release-x1: Succeeded"
    rows = {line.split()[0]: line.split(None, 3) for line in lines[2:-1]}
    assert rows["checkout"][1:] == ["Succeeded", "Reused", 'reused from run "release-x1"']
    assert rows["lint"][3] == "reruns: it ended Failed (FailureIgnored); succeeded"
    assert rows["docs"][3] == 'reruns: it depends on "lint", which reruns; succeeded'
    assert rows["publish"][3] == "reruns: it ended Skipped (DependencyFailed); succeeded"
    assert lines[-1] == ("run: Succeeded [AllStepsSucceeded] all 6 steps succeeded "
                         "(2 reused from the resumed run)")


def test_rerun_and_fail_together_in_json(files: tuple[str, str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    release, old = files
    assert main(["plan", release, "--resume-from", old, "--rerun", "build", "--fail", "test",
                 "-o", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["phase"] == "Failed"
    assert {s["name"]: s["reason"] for s in result["steps"]} == {
        "checkout": "Reused", "build": None, "lint": None, "docs": None,
        "test": "StepFailed", "publish": "DependencyFailed"}


@pytest.mark.parametrize("argv,message", [
    (["--fail", "build"], '--fail: step "build" is reused from release-x1, so it cannot '
                          "fail; name it with --rerun to run it again"),
    (["--rerun", "biuld"], 'rerun names "biuld", which is not a step of "release"; did you '
                           'mean "build"?'),
], ids=["fail-a-reused-step", "unknown-rerun-step"])
def test_usage_errors(files: tuple[str, str], argv: list[str], message: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    release, old = files
    assert main(["plan", release, "--resume-from", old, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("release_edit,old_edit,message", [
    (("generation: 3}", "generation: 4}"), None,
     'ran generation 3 of Orchestration "release", which is now at generation 4'),
    (None, ("phase: Failed\n", "phase: Running\n"), "has not ended (it is Running)"),
    (None, ("kind: OrchestrationRun", "kind: Orchestration"), "not an OrchestrationRun"),
], ids=["other-generation", "still-running", "not-a-run"])
def test_refusals_say_why(tmp_path: Path, release_edit: tuple[str, str] | None,
                          old_edit: tuple[str, str] | None, message: str,
                          capsys: pytest.CaptureFixture[str]) -> None:
    release, old = tmp_path / "release.yaml", tmp_path / "old.yaml"
    release.write_text(RELEASE.replace(*release_edit) if release_edit else RELEASE)
    old.write_text(OLD.replace(*old_edit) if old_edit else OLD)
    assert main(["plan", str(release), "--resume-from", str(old)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1, err
