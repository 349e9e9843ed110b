"""Byte-exact golden files; a mismatch shows a structural diff (deepdiff) and
the text diff. Regenerate with `make golden`, then read the diff."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml
from deepdiff import DeepDiff

from orchapi.vocabulary import Reason
from tests.golden import (
    INVALID,
    VALID,
    expected_diagnostics,
    expected_output,
    inputs,
    render_invalid,
    run_compile,
)

HINT = "regenerate with `make golden` and review `git diff golden/`"


def _explain(expected: str, actual: str, structural: bool) -> str:
    parts = []
    if structural:
        diff = DeepDiff(
            list(yaml.safe_load_all(expected)), list(yaml.safe_load_all(actual)), verbose_level=2
        )
        parts.append(diff.pretty() or "(same data; only formatting differs)")
    parts.extend(
        difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "expected", "actual", lineterm="", n=2
        )
    )
    return "\n".join(parts[:200]) + f"\n{HINT}"


@pytest.mark.parametrize("case", inputs(VALID), ids=lambda p: p.stem)
def test_valid_case_compiles_to_golden(case: Path) -> None:
    result = run_compile(case)
    assert result.code == 0, result.stderr
    golden = expected_output(case)
    assert golden.exists(), f"{golden} is missing; {HINT}"
    expected = golden.read_text(encoding="utf-8")
    if result.stdout != expected:
        pytest.fail(_explain(expected, result.stdout, structural=True), pytrace=False)


@pytest.mark.parametrize("case", inputs(INVALID), ids=lambda p: p.stem)
def test_invalid_case_gives_golden_diagnostics(case: Path) -> None:
    result = run_compile(case)
    assert result.code == 1
    assert result.stdout == "", "nothing is written to stdout for invalid input"
    golden = expected_diagnostics(case)
    assert golden.exists(), f"{golden} is missing; {HINT}"
    expected = golden.read_text(encoding="utf-8")
    actual = render_invalid(result)
    if actual != expected:
        pytest.fail(_explain(expected, actual, structural=False), pytrace=False)


def test_there_are_enough_cases() -> None:
    assert len(inputs(VALID)) >= 15
    assert len(inputs(INVALID)) >= 10


def test_the_goldens_produce_every_reason() -> None:
    """The README says every reason of the contract's §2 is produced and tested:
    each member of Reason ends a line of some invalid case's diagnostics."""
    produced = {line.rsplit("[", 1)[1].rstrip("]")
                for case in inputs(INVALID)
                for line in expected_diagnostics(case).read_text(encoding="utf-8").splitlines()
                if line.endswith("]")}
    assert {str(r) for r in Reason} - produced == set()
    assert produced <= {str(r) for r in Reason}


def test_the_size_warning_has_its_golden() -> None:
    text = "".join(expected_diagnostics(c).read_text(encoding="utf-8") for c in inputs(INVALID))
    assert ": warning: spec: the compiled Workflow is " in text
