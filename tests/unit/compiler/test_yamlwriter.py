"""The YAML writer reads back as exactly what it was given, in YAML 1.1 (PyYAML)
and without anchors; and it writes the same text PyYAML would for our data."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.yamlwriter import dump

TRICKY = st.sampled_from(
    [
        "",
        " ",
        "yes",
        "No",
        "on",
        "OFF",
        "~",
        "null",
        "true",
        "1",
        "-1",
        "0x1F",
        "0o17",
        "1e3",
        "1.5",
        ".inf",
        "1:20",
        "2001-12-14",
        "-",
        "- x",
        "? x",
        ": x",
        "a: b",
        "a #b",
        "#x",
        "&a",
        "*a",
        "!t",
        "[x]",
        "{x}",
        "'q'",
        '"q"',
        "%x",
        "@x",
        "`x`",
        "|x",
        ">x",
        "a\nb",
        "a\nb\n",
        "a\n\nb\n",
        " a",
        "a ",
        "tab\there",
        "\x00ctl",
        "é ✓",
        "{{workflow.name}}",
        "x{{=sprig.b64dec('e3s=')}}",
        "<<",
        "=",
    ]
)
KEYS = st.one_of(st.text(max_size=8), TRICKY)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30), TRICKY)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(KEYS, DATA, min_size=1, max_size=5))
def test_reads_back_exactly(value: dict[str, Any]) -> None:
    text = dump(value)
    assert yaml.safe_load(text) == value
    assert "&id" not in text and "*id" not in text


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-zA-Z0-9./-]{0,10}", fullmatch=True),
        st.from_regex(r"[a-z0-9][a-zA-Z0-9 ./:{}()=-]{0,20}", fullmatch=True),
        min_size=1,
        max_size=6,
    )
)
def test_matches_pyyaml_text(value: dict[str, str]) -> None:
    expected = yaml.safe_dump(value, sort_keys=False, width=2**31 - 1, allow_unicode=True)
    assert yaml.safe_load(dump(value)) == yaml.safe_load(expected)


def test_shared_objects_are_written_out_in_full() -> None:
    shared = {"a": 1}
    assert dump({"x": shared, "y": shared}) == "x:\n  a: 1\ny:\n  a: 1\n"
