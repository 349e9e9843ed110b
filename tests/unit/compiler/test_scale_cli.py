"""The offline commands on Orchestrations of hundreds to 10,000 steps (contract §8):
`--max-steps`, a split compile says it needs the controller, plan and graph list
every step, and Mermaid's limits are named where it would not draw."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from operate.cli import main
from orchapi.api import MAX_STEPS, PART_ANNOTATION


def write(tmp_path: Path, n: int, name: str = "big") -> Path:
    steps = [{"name": f"s{i}", "kind": "Checkpoint", "dependsOn": [f"s{i - 1}"] if i else []}
             for i in range(n)]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
        "metadata": {"name": name}, "spec": {"steps": steps}}))
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_split_compile_says_it_needs_the_controller(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, 500)
    code, out, err = run(["compile", str(path)], capsys)
    assert code == 0
    workflows = list(yaml.safe_load_all(out))
    assert [w["metadata"]["annotations"][PART_ANNOTATION] for w in workflows] == ["1/1"]
    assert err == (f"orch: note: {path}: Orchestration \"big\": 500 steps split into 3 DAGs "
                   "in 1 Workflow(s) with 2 gates; the gates are released by the orch "
                   "controller, so these Workflows run only under it (docs/scale.md)\n")


def test_one_dag_compiles_without_a_note(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["compile", str(write(tmp_path, 200))], capsys)
    assert (code, err) == (0, "")
    assert "annotations" not in yaml.safe_load(out)["metadata"]


@pytest.mark.parametrize(("argv", "n", "code"), [
    pytest.param([], MAX_STEPS, 0, id="maxSteps-by-default"),
    pytest.param([], MAX_STEPS + 1, 1, id="one-more"),
    pytest.param(["--max-steps", "300"], 300, 0, id="lowered-at"),
    pytest.param(["--max-steps", "300"], 301, 1, id="lowered-past"),
])
def test_max_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                   n: int, code: int) -> None:
    got, _, err = run(["validate", *argv, str(write(tmp_path, n))], capsys)
    assert got == code, err
    if code:
        assert "[TooManySteps]" in err and f"at most {n - 1} are allowed" in err


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_a_bad_max_steps_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          value: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["validate", "--max-steps", value, str(write(tmp_path, 3))])
    assert caught.value.code == 2
    assert "is not a whole number of at least 1" in capsys.readouterr().err


def test_plan_lists_every_step_of_a_split_run(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A split run means what the unsplit one means: the plan does not show parts."""
    code, out, _ = run(["plan", str(write(tmp_path, MAX_STEPS)), "--fail", "s9000"], capsys)
    lines = out.splitlines()
    assert code == 0 and len(lines) == MAX_STEPS + 3  # title, header, steps, run
    assert lines[-1].startswith("run: Failed [StepsFailed] 1 step (s9000) failed; "
                                "999 steps (s9001, ")


def test_graph_names_mermaids_limits(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, 1500)
    code, out, err = run(["graph", "--format", "mermaid", str(path)], capsys)
    assert code == 0 and out.count(" --> ") == 1499
    assert err == ("orch: note: 1,500 steps: Mermaid draws this only when configured for 1,499 "
                   f"edges (maxEdges 500) and {len(out):,} characters (maxTextSize 50,000); "
                   "--format dot or text has no such limit\n")
    for fmt in ("text", "dot"):
        assert run(["graph", "--format", fmt, str(path)], capsys)[2] == ""
    assert run(["graph", "--format", "mermaid", str(write(tmp_path, 50, "small"))],
               capsys)[2] == ""


def test_crds_for_another_max_steps(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["crds", "--max-steps", "200"], capsys)
    orchestrations = next(d for d in yaml.safe_load_all(out)
                          if d["spec"]["names"]["kind"] == "Orchestration")
    steps = orchestrations["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][
        "spec"]["properties"]["steps"]
    assert (code, steps["maxItems"], len(steps["x-kubernetes-validations"])) == (0, 200, 3)
