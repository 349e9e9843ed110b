"""The reference system's `Tool` (`tools.proompteng.ai/v1alpha1`) and the
rendering of its `{{...}}` placeholders with a step's parameters.

Why here: a ToolRun step compiles to a container built from its Tool (contract
§4), so the compiler reads Tool documents (from the CLI's input, or from the
cluster when the controller submits a run). The model accepts what the reference
CRD (`charts/agents/crds/tools.proompteng.ai_tools.yaml`) accepts; the rendering
is the reference controller's `renderTemplate` (jangar
`services/jangar/src/server/orchestration-controller.ts`), with one change the
issue asks for: a placeholder that names nothing is an error naming it, where the
reference silently writes an empty string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from orchapi.api import INT32_MAX, TOOL_KIND, TOOLS_API_VERSION
from orchapi.models import ObjectMeta
from orchapi.records import (
    REQUIRED,
    Factory,
    FieldSpec,
    Record,
    int_between,
    list_of,
    literal,
    optional,
    record,
    str_dict,
    strict_str,
)

# `format: int32` in the CRD: any int32, negative ones included. The Tool's records,
# their pydantic twin in `compiler.tool_schema`. The CRD's spec is not
# `x-kubernetes-preserve-unknown-fields`: the apiserver accepts unknown keys and
# prunes them, so they are accepted and ignored here; the twin populates a field
# by its name as well as by its key (`BY_NAME`).
_SIGNED_INT32 = optional(int_between(-INT32_MAX - 1, INT32_MAX))
_STR = optional(strict_str)


class ToolEnvVar(Record):
    TWIN = "compiler.tool_schema:ToolEnvVar"
    BY_NAME = True
    FIELDS = (  # both required by the CRD
        FieldSpec("name", "name", strict_str, REQUIRED),
        FieldSpec("value", "value", strict_str, REQUIRED),
    )
    name: str
    value: str


class ToolSpec(Record):
    TWIN = "compiler.tool_schema:ToolSpec"
    BY_NAME = True
    FIELDS = (
        FieldSpec("image", "image", _STR),
        FieldSpec("command", "command", optional(list_of(strict_str))),
        FieldSpec("args", "args", optional(list_of(strict_str))),
        FieldSpec("env", "env", optional(list_of(record(lambda: ToolEnvVar)))),
        FieldSpec("service_account", "serviceAccount", _STR),
        FieldSpec("working_dir", "workingDir", _STR),
        FieldSpec("timeout_seconds", "timeoutSeconds", _SIGNED_INT32),
        # A Job's TTL in the reference system; Argo's pods have no per-pod TTL.
        FieldSpec("ttl_seconds_after_finished", "ttlSecondsAfterFinished", _SIGNED_INT32),
    )
    image: str | None
    command: list[str] | None
    args: list[str] | None
    env: list[ToolEnvVar] | None
    service_account: str | None
    working_dir: str | None
    timeout_seconds: int | None
    ttl_seconds_after_finished: int | None


class Tool(Record):
    TWIN = "compiler.tool_schema:Tool"
    BY_NAME = True
    FIELDS = (
        FieldSpec("api_version", "apiVersion", literal("tools.proompteng.ai/v1alpha1"),
                  REQUIRED),
        FieldSpec("kind", "kind", literal("Tool"), REQUIRED),
        FieldSpec("metadata", "metadata", record(lambda: ObjectMeta), REQUIRED),
        FieldSpec("spec", "spec", record(lambda: ToolSpec), Factory(lambda: ToolSpec.read({}))),
        FieldSpec("status", "status", optional(str_dict())),
    )
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: ToolSpec
    status: dict[str, Any] | None


assert TOOLS_API_VERSION == "tools.proompteng.ai/v1alpha1" and TOOL_KIND == "Tool"

# -- placeholders -----------------------------------------------------------------------
# JavaScript's `\s` (and what String.prototype.trim removes): the reference's regex
# is `/\{\{\s*([^}]+)\s*\}\}/g`, and Python's `\s` is a different set (it has
# \x1c-\x1f and \x85, not \ufeff), so the set is spelled out.
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
PLACEHOLDER = re.compile(rf"\{{\{{[{_JS_SPACE}]*([^}}]+)[{_JS_SPACE}]*\}}\}}")
_TRIM = re.compile(rf"^[{_JS_SPACE}]+|[{_JS_SPACE}]+$")
PARAMETERS, TOOL = "parameters", "tool"


@dataclass(frozen=True)
class Unresolved:
    """A placeholder that names nothing: where it stands and what it names."""

    field: str  # `spec.args[0]`, `spec.env[1].value`
    placeholder: str  # the whole `{{...}}` as written
    path: tuple[str, ...]  # its dotted path, parts trimmed, empty parts dropped

    @property
    def parameter(self) -> str | None:
        """The parameter's name when it is a `{{parameters.NAME}}`."""
        return self.path[1] if len(self.path) == 2 and self.path[0] == PARAMETERS else None


def placeholder_path(key: str) -> tuple[str, ...]:
    """`key.split('.').map(trim).filter(Boolean)`, as the reference does."""
    return tuple(p for p in (_TRIM.sub("", part) for part in key.split(".")) if p)


def _lookup(path: Sequence[str], context: Mapping[str, Any]) -> str | None:
    """The reference's walk down `context`; None where it would print ''. A
    string is itself; anything else is its compact JSON (`JSON.stringify`)."""
    cursor: Any = context
    for part in path:
        if isinstance(cursor, list) and part.isdigit() and str(int(part)) == part \
                and int(part) < len(cursor):
            cursor = cursor[int(part)]  # `array["1"]` in JavaScript; never `"01"`
        elif isinstance(cursor, dict) and part in cursor:
            cursor = cursor[part]
        else:
            return None
    if cursor is None or cursor is context:
        return None
    if isinstance(cursor, str):
        return cursor
    return json.dumps(cursor, ensure_ascii=False, separators=(",", ":"))


# A piece of rendered text: (whether it is a rendered value, its text). The Tool's
# own text keeps Kubernetes' `$(VAR)` meaning; a rendered value is protected
# (contract §4), so the two are written differently (`compiler.kinds.container`).
Piece = tuple[bool, str]
Pieces = tuple[Piece, ...]


def render_pieces(text: str, field: str, parameters: Mapping[str, str],
                  tool: Mapping[str, Any], problems: list[Unresolved]) -> Pieces:
    """`text` cut into the Tool's own text and the values that replace each
    `{{parameters.NAME}}` (and `{{tool.PATH}}`, a field of the Tool document), in
    one pass: a value that holds `{{` stays as it is. A placeholder that names
    nothing is appended to `problems` (and kept as own text)."""
    context = {PARAMETERS: dict(parameters), TOOL: dict(tool)}
    pieces: list[Piece] = []
    last = 0
    for match in PLACEHOLDER.finditer(text):
        if match.start() > last:
            pieces.append((False, text[last:match.start()]))
        path = placeholder_path(match.group(1))
        value = _lookup(path, context) if path and path[0] in context else None
        if value is None:
            problems.append(Unresolved(field, match.group(0), path))
            pieces.append((False, match.group(0)))
        else:
            pieces.append((True, value))
        last = match.end()
    if last < len(text):
        pieces.append((False, text[last:]))
    return tuple(pieces)


def render(text: str, field: str, parameters: Mapping[str, str],
           tool: Mapping[str, Any], problems: list[Unresolved]) -> str:
    """`text` rendered, as the reference's `renderTemplate` writes it."""
    return "".join(t for _, t in render_pieces(text, field, parameters, tool, problems))


def joined(pieces: Pieces) -> str:
    return "".join(t for _, t in pieces)


@dataclass(frozen=True)
class RenderedTool:
    """The Tool's command, args and env values with every placeholder rendered, each
    as its pieces of own text and values (`joined` gives the reference's text)."""

    command: list[Pieces] | None
    args: list[Pieces] | None
    env: list[tuple[str, Pieces]]


def render_tool(tool: Tool, parameters: Mapping[str, str],
                document: Mapping[str, Any] | None = None,
                ) -> tuple[RenderedTool, list[Unresolved]]:
    """Command, args and env values rendered with `parameters` (the run's
    `spec.parameters` under the step's `with`); env entries without a name are
    dropped, as the reference does. `document` is the Tool as written (what
    `{{tool.PATH}}` reads), by default the model's own dump."""
    data = dict(document) if document is not None else tool.model_dump(
        by_alias=True, exclude_none=True)
    problems: list[Unresolved] = []
    spec = tool.spec

    def each(values: list[str] | None, key: str) -> list[Pieces] | None:
        if values is None:
            return None
        return [render_pieces(v, f"spec.{key}[{i}]", parameters, data, problems)
                for i, v in enumerate(values)]

    command, args = each(spec.command, "command"), each(spec.args, "args")
    env = [(e.name, render_pieces(e.value, f"spec.env[{i}].value", parameters, data, problems))
           for i, e in enumerate(spec.env or ()) if e.name]
    return RenderedTool(command, args, env), problems


# -- Tools from elsewhere than the input ----------------------------------------------
class ToolSource(Protocol):
    """Where `orch compile/validate/plan --tools-from-cluster` reads the Tools the
    input lacks, as the controller reads them at submission. Implemented outside
    the compiler (`operate.toolsource`: the current kube context), which never
    talks to a cluster itself."""

    def where(self, namespace: str) -> str:
        """Where a Tool of `namespace` ("" for a document without one) is looked
        for, as a message says it: `in the input nor in namespace "a" of the
        cluster`."""
        ...

    def fetch(self, namespace: str, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The Tools of those names that exist there, as the apiserver returns
        them."""
        ...
