"""`orch plan FILE --resume-from RUN.yaml`: the resume decision offline, from a run
saved with `kubectl get orchestrationrun NAME -o yaml`; refusals as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from operate.cli import main
from tests.unit.compiler.release import release_pipeline

RELEASE = release_pipeline("{name: release, generation: 3}")
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


# --- what kubectl saves, and what was written by hand (issue 21) -----------------------

def test_a_kubectl_list_export_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    """`kubectl get orchestrationruns -o yaml` prints a `kind: List`; README says
    Lists are read, so --resume-from reads one (the run of the Orchestration planned
    when it holds several)."""
    import yaml

    old = yaml.safe_load(OLD)
    other = {**old, "metadata": {"name": "deploy-y2"},
             "spec": {"orchestrationRef": {"name": "deploy"}}}
    listed = tmp_path / "runs.yaml"
    listed.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List",
                                      "items": [other, old], "metadata": {}}))
    (tmp_path / "release.yaml").write_text(RELEASE)
    assert main(["plan", str(tmp_path / "release.yaml"), "--resume-from", str(listed)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "release resumed from release-x1: Succeeded")
    twice = tmp_path / "twice.yaml"
    twice.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [
        old, {**old, "metadata": {"name": "release-x2"}}]}))
    assert main(["plan", str(tmp_path / "release.yaml"), "--resume-from", str(twice)]) == 2
    assert capsys.readouterr().err == (
        f'orch: error: {twice} holds 2 OrchestrationRuns of "release" ("release-x1", '
        '"release-x2"); save the one to resume (kubectl get orchestrationrun NAME -o yaml)\n')


def test_a_generation_known_on_neither_side_is_not_compared(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Both files written by hand: no generation to compare. Before, the plan was
    refused saying "now at generation None" (exit 2)."""
    release, old = tmp_path / "release.yaml", tmp_path / "old.yaml"
    release.write_text(RELEASE.replace(", generation: 3}", "}"))
    old.write_text(OLD.replace("  orchestrationGeneration: 3\n", ""))
    assert main(["plan", str(release), "--resume-from", str(old)]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[0] == "release resumed from release-x1: Succeeded"
    assert out.err == (f"note: neither {release} nor {old} records the Orchestration's "
                       f"generation; the plan assumes release-x1 ran the Orchestration as "
                       f"{release} holds it\n")
    assert "None" not in out.err
