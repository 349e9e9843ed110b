"""Diagnostics as data.

Every check returns records instead of raising, so a user sees every problem at
once; the CLI, `-o json` and a `Ready=False` condition message all render these
same objects.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from orchapi.vocabulary import Reason


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


PathPart = str | int
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$-]+")  # matched whole: `$` also matches before a final \n


@dataclass(frozen=True, slots=True)
class FieldPath:
    """A path inside one document, rendered like `spec.steps[2].dependsOn[0]`."""

    parts: tuple[PathPart, ...] = ()

    def child(self, *parts: PathPart) -> FieldPath:
        return FieldPath(self.parts + parts)

    def __str__(self) -> str:
        """A key that is not a plain name (a space, a dot, a control character)
        is written `["as JSON"]`, so the path stays one unambiguous line."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, int) and not isinstance(part, bool):
                out.append(f"[{part}]")
            elif not _PLAIN_KEY.fullmatch(str(part)):
                out.append(f"[{json.dumps(str(part), ensure_ascii=False)}]")
            elif out:
                out.append(f".{part}")
            else:
                out.append(str(part))
        return "".join(out) or "<document>"


ROOT = FieldPath()


@dataclass(frozen=True, slots=True)
class Span:
    """Where a diagnostic points in its file (1-based line and column)."""

    file: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    reason: Reason
    path: FieldPath
    message: str
    severity: Severity = Severity.ERROR
    names: tuple[str, ...] = ()
    hint: str | None = None
    span: Span | None = None
    document: int = 0

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def located(self, span: Span | None, document: int) -> Diagnostic:
        return replace(self, span=span, document=document)

    @property
    def text(self) -> str:
        """Message and hint, as one sentence for a line or a condition."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


def errors(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.is_error]


def has_errors(diagnostics: Sequence[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


@dataclass
class Collector:
    """Accumulates diagnostics for one document; checks call `add`."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(
        self,
        reason: Reason,
        path: FieldPath,
        message: str,
        *,
        names: tuple[str, ...] = (),
        hint: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.items.append(Diagnostic(reason, path, message, severity, names, hint))
