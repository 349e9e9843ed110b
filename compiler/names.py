"""Name rules of the target: DAG task names, label values, object names."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable

from compiler.models import MAX_NAME_LENGTH

# Argo's DAG task names, which also end up inside `dependencies` expressions.
TASK_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]*$")
# Words that Argo's `dependencies` evaluation (expr-lang) reads as operators/literals.
EXPRESSION_KEYWORDS = frozenset(
    [
        "in",
        "not",
        "and",
        "or",
        "matches",
        "contains",
        "startsWith",
        "endsWith",
        "let",
        "if",
        "else",
        "true",
        "false",
        "nil",
    ]
)
# Argo template names: DNS-1123-like, what `argo lint` accepts.
TEMPLATE_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
MAX_TEMPLATE_NAME = 128
# Workflow names: Argo refuses more than 63 characters.
MAX_WORKFLOW_NAME = 63
# Argo parameter names.
PARAMETER_NAME = re.compile(r"^[-a-zA-Z0-9_]+$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def task_name_problem(name: str) -> str | None:
    """Why Argo cannot use `name` as a DAG task name, or None."""
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; at most {MAX_NAME_LENGTH} are allowed"
    if name in EXPRESSION_KEYWORDS:
        return "is a keyword of Argo's dependency expressions; rename the step"
    if not TASK_NAME.match(name):
        return "must start with a letter and hold only letters, digits and '-'"
    return None


def label_value(name: str) -> str:
    """`name` if it is a valid label value, else its first 54 characters, '-', and
    8 hex digits of its sha256 (contract §4)."""
    if len(name) <= 63 and LABEL_VALUE.match(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    head = name[:54].rstrip("-_.")
    return f"{head}-{digest}" if head else digest


def shorten(name: str, limit: int) -> str:
    """`name` itself when it fits in `limit`, else a prefix plus a stable hash."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-.')}-{digest}"


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate, for 'did you mean ...?' hints."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None
