"""A small, fast block-style YAML writer for the data the compiler emits
(mappings, lists, strings, booleans, integers, null).

PyYAML's representer is pure Python and was half of the compile time; this
writes the same readable form directly. Strings are written plain only when a
YAML 1.1 or 1.2 reader reads them back as the same string; otherwise single-
quoted, or as a `|` block when they span lines. A property test checks
`yaml.safe_load(dump(x)) == x` on random data.
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
    # NEL, LS and PS are line breaks to a YAML 1.1 reader: escaped too.
    o = ord(c)
    return (
        0x20 <= o <= 0x7E
        or (0xA0 <= o <= 0xD7FF and o not in (0x2028, 0x2029))
        or 0xE000 <= o <= 0xFFFD
        or 0x10000 <= o <= 0x10FFFF
    )


def _double_quoted(value: str) -> str:
    """Escapes for everything YAML does not allow raw (control characters...)."""
    out = []
    for c in value:
        if c in '"\\':
            out.append("\\" + c)
        elif _yaml_printable(c):
            out.append(c)
        elif ord(c) <= 0xFF:
            out.append(f"\\x{ord(c):02x}")
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
