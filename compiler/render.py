"""Deterministic text: Workflows as YAML/JSON, diagnostics as lines or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.yamlwriter import dump


def to_yaml(documents: Iterable[dict[str, Any]]) -> str:
    """Documents separated by `---`, deterministic and readable (see yamlwriter)."""
    return "---\n".join(dump(doc) for doc in documents)


def json_text(document: Any) -> str:
    """One object as `orch compile -o json` prints it."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# What `kubectl get -o json` prints for several objects, and what kubectl
# create/apply read back as the objects themselves.
LIST_HEAD = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}}


def json_list(items: Sequence[str]) -> str:
    """A `v1` `List` of objects already rendered by `json_text`, exactly as
    `json_text` would render the List itself (each item indented in place)."""
    if not items:
        return json_text({**LIST_HEAD, "items": []})
    head = json.dumps({**LIST_HEAD, "items": [None]}, indent=2)
    body = ",\n".join("    " + item.rstrip("\n").replace("\n", "\n    ") for item in items)
    return head.replace("    null", body, 1) + "\n"


# Characters that would end or garble a diagnostic's line (control characters,
# DEL, C1 with NEL, the Unicode line and paragraph separators), as escapes.
_UNPRINTABLE = {c: f"\\x{c:02x}" for c in (*range(0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0))}
_UNPRINTABLE |= {0x2028: "\\u2028", 0x2029: "\\u2029"}


def diagnostic_line(d: Diagnostic) -> str:
    """`FILE:LINE: PATH: MESSAGE [Reason]` (contract §2.3); warnings say so.
    Always one line, whatever characters the input's names and values hold."""
    where = ""
    if d.span is not None:
        where = f"{d.span.file}:{d.span.line}: " if d.span.line else f"{d.span.file}: "
    level = "warning: " if not d.is_error else ""
    return f"{where}{level}{d.path}: {d.text} [{d.reason}]".translate(_UNPRINTABLE)


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
