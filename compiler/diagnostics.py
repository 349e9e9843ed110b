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

from orchapi.vocabulary import SubmitReason


class Reason(enum.StrEnum):
    """The contract's reason strings (semantics.md §2). The first seven are the
    reference controller's own and must not change."""

    MISSING_STEPS = "MissingSteps"
    STEP_MISSING_NAME = "StepMissingName"
    STEP_MISSING_KIND = "StepMissingKind"
    DUPLICATE_STEP = "DuplicateStep"
    MISSING_DEPENDENCY = "MissingDependency"
    INVALID_DEPENDENCY = "InvalidDependency"
    DEPENDENCY_CYCLE = "DependencyCycle"
    ENTRYPOINT_MISSING = "EntrypointMissing"
    INVALID_STEP_NAME = "InvalidStepName"
    UNSUPPORTED_STEP_KIND = "UnsupportedStepKind"
    MISSING_STEP_FIELD = "MissingStepField"
    INVALID_FIELD = "InvalidField"
    # A key the step's kind does not read (`image` on a ToolRun): a warning, an
    # error under --strict (contract §2).
    IGNORED_FIELD = "IgnoredField"
    INVALID_YAML = "InvalidYAML"
    UNSUPPORTED_DOCUMENT_KIND = "UnsupportedDocumentKind"
    TOO_MANY_STEPS = "TooManySteps"
    WORKFLOW_TOO_LARGE = "WorkflowTooLarge"
    ORCHESTRATION_NOT_FOUND = "OrchestrationNotFound"
    TOOL_NOT_FOUND = "ToolNotFound"
    SUB_ORCHESTRATION_CYCLE = "SubOrchestrationCycle"
    # A run whose Orchestration is in the input but invalid: the word the
    # controller's Submitted=False condition uses for the same case.
    ORCHESTRATION_INVALID = SubmitReason.ORCHESTRATION_INVALID.value
    # Two Orchestrations, or two runs, of one namespace and name in the input
    # (kubectl apply would silently keep the last; the contract is silent).
    DUPLICATE_RESOURCE = "DuplicateResource"


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
