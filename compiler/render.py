"""Deterministic text: Workflows as YAML/JSON, diagnostics as lines or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import yaml

from compiler.diagnostics import Diagnostic

try:
    _Dumper: type[yaml.SafeDumper] = yaml.CSafeDumper  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing
    _Dumper = yaml.SafeDumper


class _OrchDumper(_Dumper):  # type: ignore[misc,valid-type]
    """Block style, insertion key order, no wrapping; multi-line strings as `|`.
    Strings that would read back as numbers, booleans or null are quoted by the
    safe representer already."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and value == value.rstrip(" ") and "\t" not in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_OrchDumper.add_representer(str, _represent_str)


def to_yaml(documents: Iterable[Any]) -> str:
    return yaml.dump_all(
        list(documents),
        Dumper=_OrchDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=2**31 - 1,
        explicit_start=False,
    )


def to_json(documents: Sequence[Any]) -> str:
    body: Any = documents[0] if len(documents) == 1 else list(documents)
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def diagnostic_line(d: Diagnostic) -> str:
    """`FILE:LINE: PATH: MESSAGE [Reason]` (contract §2.3); warnings say so."""
    where = ""
    if d.span is not None:
        where = f"{d.span.file}:{d.span.line}: " if d.span.line else f"{d.span.file}: "
    level = "warning: " if not d.is_error else ""
    return f"{where}{level}{d.path}: {d.text} [{d.reason}]"


def diagnostic_dict(d: Diagnostic) -> dict[str, Any]:
    span = d.span
    return {
        "file": span.file if span else None,
        "line": span.line if span else None,
        "column": span.column if span else None,
        "document": d.document,
        "path": str(d.path),
        "severity": str(d.severity),
        "reason": str(d.reason),
        "message": d.message,
        "hint": d.hint,
        "names": list(d.names),
    }


def condition_message(diagnostics: Sequence[Diagnostic]) -> str:
    """All problems in one condition message, in document order."""
    return "; ".join(f"{d.path}: {d.text}" for d in diagnostics)
