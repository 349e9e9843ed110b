"""Under CI=true a skip for a missing tool fails the run; a skip for an absent
../shared stays a skip (tests/support/ci_skips.py). Judged on a small suite run
by pytest in a subprocess, with and without CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.support.argo import SHARED_ABSENT

REPO = Path(__file__).resolve().parents[2]

SUITE = f'''
import shutil
import pytest

SHARED_ABSENT = {SHARED_ABSENT!r}

def test_runs():
    pass

def test_needs_a_tool():
    pytest.skip("Graphviz `dot` not installed")

@pytest.mark.skipif(True, reason="node or tests/js/mermaid/node_modules missing")
def test_marked_for_a_tool():
    pass

@pytest.fixture
def tools():
    pytest.skip("test cluster tools unavailable: no go")

def test_needs_the_cluster(tools):
    pass

def test_needs_shared():
    pytest.skip(SHARED_ABSENT)

@pytest.mark.skipif(True, reason=SHARED_ABSENT)
def test_marked_for_shared():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_to_fail():
    assert False
'''


def outcomes(tmp_path: Path, ci: str | None) -> dict[str, str]:
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    report = tmp_path / "report.xml"
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(REPO)
    if ci is not None:
        env["CI"] = ci
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.support.ci_skips",
                    "-p", "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"),
                    "--rootdir", str(tmp_path), f"--junitxml={report}",
                    str(tmp_path / "test_suite.py")],
                   cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                   check=False)
    found: dict[str, str] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        kinds = {child.tag: child.get("type", "") for child in case}
        found[case.get("name", "")] = (
            "failed" if {"failure", "error"} & kinds.keys()
            else "xfailed" if kinds.get("skipped") == "pytest.xfail"
            else "skipped" if "skipped" in kinds else "passed")
    return found


NAMES = ["test_runs", "test_needs_a_tool", "test_marked_for_a_tool", "test_needs_the_cluster",
         "test_needs_shared", "test_marked_for_shared", "test_expected_to_fail"]


@pytest.mark.parametrize(("ci", "expected"), [
    pytest.param(None, ["passed", "skipped", "skipped", "skipped", "skipped", "skipped",
                        "xfailed"], id="not-ci"),
    pytest.param("true", ["passed", "failed", "failed", "failed", "skipped", "skipped",
                          "xfailed"], id="ci"),
    pytest.param("false", ["passed", "skipped", "skipped", "skipped", "skipped", "skipped",
                           "xfailed"], id="ci-false"),
])
def test_a_skip_for_a_missing_tool_fails_under_ci(tmp_path: Path, ci: str | None,
                                                   expected: list[str]) -> None:
    assert outcomes(tmp_path, ci) == dict(zip(NAMES, expected, strict=True))
