"""The terminal views of 200-step runs, byte for byte (golden/operate/). Regenerate
with `make golden`, then read `git diff golden/operate`."""

from __future__ import annotations

import difflib
from collections.abc import Callable

import pytest

from tests.operate_golden import FOLDER, cases

HINT = "regenerate with `make golden` and review `git diff golden/operate`"


@pytest.mark.parametrize("name,make", sorted(cases().items()), ids=sorted(cases()))
def test_view_matches_golden(name: str, make: Callable[[], str]) -> None:
    golden = FOLDER / name
    assert golden.exists(), f"{golden} is missing; {HINT}"
    expected, actual = golden.read_text(encoding="utf-8"), make()
    if actual != expected:
        diff = difflib.unified_diff(expected.splitlines(), actual.splitlines(), "expected",
                                    "actual", lineterm="", n=1)
        pytest.fail("\n".join(list(diff)[:80]) + f"\n{HINT}", pytrace=False)


def test_goldens_cover_every_phase_and_reason() -> None:
    """Among the four 200-step scenarios, every step phase and every step reason of
    the contract appears in a golden file (so each has a pinned rendering)."""
    from orchapi.vocabulary import StepPhase, StepReason
    from tests.operate_golden import view

    scenarios = ("running", "cancelled", "ended", "refused", "timed-out")
    seen = {(s.phase, s.reason) for w in scenarios for s in view(w).steps}
    assert {p for p, _ in seen} == {str(p) for p in StepPhase}
    assert {r for _, r in seen if r} == {str(r) for r in StepReason}
    assert all(len(view(w).steps) == 200 for w in scenarios)
