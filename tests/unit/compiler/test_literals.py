"""User values in container fields survive Kubernetes' `$(VAR)` expansion and
Argo's `{{...}}` substitution unchanged.

`k8s_expand` is a line-by-line port of Kubernetes'
third_party/forked/golang/expansion/expand.go (`Expand`, `tryReadVariableName`),
the function the kubelet applies to command, args and env values."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.kinds.base import argo_literal
from compiler.kinds.container import BRACE_VAR, literal


def k8s_expand(text: str, mapping: Callable[[str], str]) -> str:
    buf: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            buf.append(text[checkpoint:cursor])
            read, is_var, advance = _read_variable_name(text[cursor + 1 :])
            buf.append(mapping(read) if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(buf) + text[checkpoint:]


def _read_variable_name(text: str) -> tuple[str, bool, int]:
    if text[0] == "$":
        return text[0:1], False, 1
    if text[0] == "(":
        for i in range(1, len(text)):
            if text[i] == ")":
                return text[1:i], True, i + 1
        return "$(", False, 1
    return "$" + text[0], False, 1


ENV = {"HOME": "/root", "x": "EXPANDED", BRACE_VAR: "{"}


def lookup(name: str) -> str:
    return ENV.get(name, f"$({name})")


_EXPR = re.compile(r"\{\{=sprig\.b64dec\('([A-Za-z0-9+/=]*)'\)\}\}")


def argo_substitute(text: str) -> str:
    """Argo's one pass over a template: our expressions evaluate to their decoded
    text; any other `{{...}}` tag left would be expanded (the test forbids it)."""
    rest = _EXPR.sub("", text)
    assert "{{" not in rest, f"Argo would expand a tag in {text!r}"
    return _EXPR.sub(lambda m: base64.b64decode(m.group(1)).decode(), text)


DOLLARS = st.text(alphabet="$(){}xH \\'\"a", max_size=30)


def test_port_matches_kubernetes_documented_cases() -> None:
    assert k8s_expand("$(HOME)/bin", lookup) == "/root/bin"
    assert k8s_expand("$$(HOME)", lookup) == "$(HOME)"
    assert k8s_expand("$$$$(x)", lookup) == "$$(x)"
    assert k8s_expand("$(UNSET)", lookup) == "$(UNSET)"
    assert k8s_expand("a$", lookup) == "a$"
    assert k8s_expand("$(open", lookup) == "$(open"


@settings(max_examples=1000, deadline=None)
@given(st.one_of(DOLLARS, st.text(max_size=30)))
def test_container_values_reach_the_process_unchanged(value: str) -> None:
    written = literal(value)
    assert "{{" not in written, "Argo would expand it, in any of its passes"
    assert k8s_expand(written, lookup) == value


@settings(max_examples=500, deadline=None)
@given(st.one_of(DOLLARS, st.text(max_size=30)))
def test_argo_values_arrive_unchanged(value: str) -> None:
    assert argo_substitute(argo_literal(value)) == value
