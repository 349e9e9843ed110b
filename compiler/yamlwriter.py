"""A small, fast block-style YAML writer for the data the compiler emits
(mappings, lists, strings, booleans, integers, null).

PyYAML's representer is pure Python and was half of the compile time; this
writes the same readable form directly. Strings are written plain only when
every reader reads them back as the same string: PyYAML (YAML 1.1), the YAML 1.2
core schema, and go-yaml v2, the reader inside sigs.k8s.io/yaml that kubectl,
the apiserver's YAML input and Argo use (which reads `y` and `n` as booleans and
`0o17`, `+0x1F`, `1_0e3` or `2001-12-14 1:2:3` as numbers and times). Otherwise a
string is single-quoted, or a `|` block when it spans lines, or double-quoted
with escapes when it holds a character that is not printable in YAML (control
characters, DEL, C1, NEL, U+2028/U+2029, U+FEFF, U+FFFE/U+FFFF): every reader
then gets the exact string back. Property tests read random data back through
PyYAML and through the Go reader itself (`tools/yamlread`).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml

_INDICATORS = frozenset("!&*[]{},#|>@`\"'%")
# YAML 1.2 core-schema numbers, which a 1.1 reader (PyYAML) may read as strings.
_CORE_NUMBER = re.compile(
    r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$"
)
_resolver = yaml.resolver.Resolver()
# go-yaml v2's `resolveMap` (go.yaml.in/yaml/v2 v2.4.3 resolve.go): the plain
# scalars it reads as booleans, null, floats or the merge key.
_GO_SPECIAL = frozenset([
    "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
    "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
    "~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
    "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<",
])
# What go-yaml v2's `resolve` reads as an int or float (after removing every
# `_`, as it does): Go's ParseInt/ParseUint with base prefixes, its YAML float
# pattern, and its extra `0b` forms; and a superset of its timestamp layouts
# (`2006-1-2T15:4:5.999999999Z07:00`, `2006-1-2 15:4:5`, `2006-1-2`). Strings that
# match are quoted, which is always safe.
_GO_NUMBER = re.compile(
    r"^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0b[-+]?[01]+"
    r"|(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$"
)
_GO_TIME_LIKE = re.compile(r"^[0-9]{4}-[-0-9:.TtZ +]*$")


def _go_reads_as_non_string(value: str) -> bool:
    """go-yaml v2's `resolve` for a plain scalar, by its first character's hint."""
    if value in _GO_SPECIAL:
        return True
    if value[0] not in "+-.0123456789":
        return False
    return bool(_GO_NUMBER.match(value.replace("_", "")) or _GO_TIME_LIKE.match(value))


@functools.lru_cache(maxsize=4096)
def _is_plain(value: str) -> bool:
    """Whether `value` can stand unquoted and read back as this string in YAML 1.1
    (PyYAML's own implicit resolvers decide) and 1.2 (core schema numbers)."""
    if not value or value != value.strip() or not value.isprintable():
        return False
    first = value[0]
    if first in _INDICATORS or (first in "-?:" and (len(value) == 1 or value[1] == " ")):
        return False
    if ": " in value or " #" in value or value.endswith(":"):
        return False
    if _go_reads_as_non_string(value):
        return False
    if value.startswith(("---", "...")):  # a document marker at column 0 (a top-level key)
        return False
    tag = _resolver.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag == "tag:yaml.org,2002:str" and not _CORE_NUMBER.match(value)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return _string(value)


def _string(value: str) -> str:
    if _is_plain(value):
        return value
    if all(_yaml_printable(c) or c == "\t" for c in value):
        return "'" + value.replace("'", "''") + "'"
    return _double_quoted(value)


def _yaml_printable(c: str) -> bool:
    """Whether `c` may stand raw inside a quoted scalar. NEL, LS and PS are line
    breaks to a YAML 1.1 reader (folded into spaces), and a byte order mark at
    the start of a line is dropped by libyaml and go-yaml: all escaped."""
    o = ord(c)
    return (
        0x20 <= o <= 0x7E
        or (0xA0 <= o <= 0xD7FF and o not in (0x2028, 0x2029))
        or (0xE000 <= o <= 0xFFFD and o != 0xFEFF)
        or 0x10000 <= o <= 0x10FFFF
    )


def _double_quoted(value: str) -> str:
    """Escapes for everything YAML does not allow raw (control characters...).
    A lone surrogate has no escape any reader accepts (go-yaml and libyaml
    refuse `\\ud800`): it is refused here; the reader never produces one."""
    out = []
    for c in value:
        if c in '"\\':
            out.append("\\" + c)
        elif _yaml_printable(c):
            out.append(c)
        elif ord(c) <= 0xFF:
            out.append(f"\\x{ord(c):02x}")
        elif 0xD800 <= ord(c) <= 0xDFFF:
            raise ValueError(f"a lone surrogate (U+{ord(c):04X}) cannot be written as YAML")
        elif ord(c) <= 0xFFFF:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'


def _block(value: str, indent: str) -> str | None:
    """A `|` literal block for multi-line text, where it reads back exactly."""
    if not value.endswith("\n") or value.endswith("\n\n") or value.startswith((" ", "\n")):
        return None
    lines = value[:-1].split("\n")
    if any(line != line.rstrip(" \t") or not line.isprintable() for line in lines):
        return None
    return "|\n" + "".join(f"{indent}{line}\n" if line else "\n" for line in lines)


def _write(value: Any, indent: str, out: list[str]) -> None:
    """Append `value` as the body of a block node (after `key:` or `- `)."""
    if isinstance(value, dict):
        if not value:
            out.append(" {}\n")
            return
        out.append("\n")
        _mapping(value, indent, out)
    elif isinstance(value, list):
        if not value:
            out.append(" []\n")
            return
        out.append("\n")
        _sequence(value, indent[:-2], out)  # indentless, as kubectl and PyYAML write
    elif isinstance(value, str) and "\n" in value:
        block = _block(value, indent)
        out.append(" " + (block if block is not None else _string(value) + "\n"))
    else:
        out.append(" " + _scalar(value) + "\n")


def _mapping(
    value: dict[Any, Any], indent: str, out: list[str], first_prefix: str | None = None
) -> None:
    for i, (key, item) in enumerate(value.items()):
        out.append(
            (first_prefix if i == 0 and first_prefix is not None else indent) + _scalar(key) + ":"
        )
        _write(item, indent + "  ", out)


def _sequence(value: list[Any], indent: str, out: list[str]) -> None:
    for item in value:
        if isinstance(item, dict) and item:
            _mapping(item, indent + "  ", out, first_prefix=indent + "- ")
        elif isinstance(item, list) and item:
            out.append(indent + "-\n")
            _sequence(item, indent + "  ", out)
        else:
            out.append(indent + "-")
            _write(item, indent + "  ", out)


def dump(value: dict[str, Any]) -> str:
    """One document (a non-empty mapping) as block YAML."""
    out: list[str] = []
    _mapping(value, "", out)
    return "".join(out)
