"""How a field path is written in a diagnostic: `spec.steps[2].dependsOn[0]`, and a
key that is not a plain name as `["JSON"]`, so a path stays one unambiguous line."""

from __future__ import annotations

import pytest

from compiler.diagnostics import FieldPath


@pytest.mark.parametrize(("parts", "shown"), [
    pytest.param(("spec", "steps", 2, "dependsOn", 0), "spec.steps[2].dependsOn[0]", id="plain"),
    pytest.param(("with", "a-b_c$1"), "with.a-b_c$1", id="plain-key"),
    pytest.param(("with", "a.b"), 'with["a.b"]', id="dot"),
    pytest.param(("with", "a b"), 'with["a b"]', id="space"),
    pytest.param(("with", "a\n"), 'with["a\\n"]', id="final-newline"),
    pytest.param(("with", "\na"), 'with["\\na"]', id="first-newline"),
    pytest.param(("with", ""), 'with[""]', id="empty"),
    pytest.param(("a\n",), '["a\\n"]', id="first-part"),
])
def test_a_path_is_one_line(parts: tuple[str | int, ...], shown: str) -> None:
    assert str(FieldPath(parts)) == shown
