"""The YAML writer reads back as exactly what it was given, in YAML 1.1 (PyYAML)
and without anchors; and it writes the same text PyYAML would for our data."""

from __future__ import annotations

from typing import Any

import pytest
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
        "y",
        "N",
        "0O17",
        "1_0e3",
        "2001-12-14 1:2:3",
        "a\x85b",
        "a\u2028b\n",
        "\ufeffx",
        "\x7f",
        "\x9f",
        "\ufffe",
        "---",
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
    assert dump({"x": shared, "z": shared}) == "x:\n  a: 1\nz:\n  a: 1\n"


# go-yaml v2 (inside sigs.k8s.io/yaml: kubectl, Argo) reads these plain scalars
# as something other than the string: y/n booleans, Go's base prefixes in either
# case, `_` anywhere in a number, exponents without a dot, short-field times.
GO_NON_STRINGS = [
    "y", "Y", "n", "N", "yes", "No", "ON", "off", "~", "Null", "<<",
    "0o17", "0O17", "+0o17", "0X1F", "+0x1F", "-0x1F", "0B101", "0b-1", "-0b1",
    "1_000", "1__0", "1_0e3", "1e3", "+1E-3", ".5", "-.5", "1.", "017", "089",
    ".inf", "+.INF", "-.Inf", ".NaN", "2001-12-14", "2001-1-2", "2001-12-14 1:2:3",
    "2001-12-14t21:59:43.10-05:00", "2001-12-14T21:59:43Z", "1:20", "190:20:30",
]
# ...and these it reads as the string: they stay plain, as people write them.
GO_STRINGS = ["-c", "-x", "1.2.3", "10s", "alpine:3.20", "v1", "yes-no", "y2", "no-op",
              "0x", "0xg", "1-2-3-4", "Y0", "on-call", "N/A", "e3", "_1"]


@pytest.mark.parametrize("value", GO_NON_STRINGS)
def test_what_go_yaml_reads_as_non_string_is_quoted(value: str) -> None:
    assert dump({"k": value}) == f"k: '{value}'\n"
    assert dump({value: "v"}) == f"'{value}': v\n"


@pytest.mark.parametrize("value", GO_STRINGS)
def test_what_every_reader_reads_as_string_stays_plain(value: str) -> None:
    assert dump({"k": value}) == f"k: {value}\n"


# Characters YAML may not hold raw (C0 but tab and newline, DEL, C1), those a
# YAML 1.1 reader folds into a space (NEL, LS, PS), a byte order mark (dropped
# at the start of a line) and the noncharacters U+FFFE/U+FFFF.
ESCAPED = [*(chr(c) for c in range(0x20) if c not in (0x09, 0x0A)), "\x7f",
           *(chr(c) for c in range(0x80, 0xA0)), "\u2028", "\u2029", "\ufeff", "\ufffe",
           "\uffff"]


@pytest.mark.parametrize("char", ESCAPED, ids=[f"U+{ord(c):04X}" for c in ESCAPED])
def test_characters_yaml_cannot_hold_raw_are_escaped(char: str) -> None:
    for value in (f"a{char}b", f"line{char}\nnext\n", char):
        text = dump({"k": value})
        assert char not in text, text
        assert text.startswith('k: "')
        assert yaml.safe_load(text) == {"k": value}


def test_a_lone_surrogate_is_refused_not_written() -> None:
    with pytest.raises(ValueError, match="lone surrogate"):
        dump({"k": "a\ud800"})


def test_document_markers_never_start_a_line() -> None:
    # kubectl's document splitter cuts at any line that starts with `---`.
    assert dump({"---x": "...", "...": "---"}) == "'---x': '...'\n'...': '---'\n"
