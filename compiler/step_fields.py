"""How a step's fields are read: the reference controller's rules, ported once.

Why: the reference system's own Orchestrations carry an AgentRun's
`implementation`, `runtime`, `secrets`, `policy`, `goal`... in `with` as JSON
text, and its controller reads each field from the step, else from `with`
(proompteng/lab @6b69af37, `services/agents/src/server/orchestration-controller.ts`,
cited below by line as `ts:N`). orch builds from a step exactly the object the
reference builds, so its reading rules live here, and everything that depends on
them derives from this module: the kinds build with the readers, validation
reports what the readers find, `IgnoredField` knows from `READS` which keys each
kind reads, and the docs' table of fields is rendered from `READS`.

The rules (contract §4): a reference is `{name}`, a name, or `with[FIELD]`; a
record an object or JSON text; `secrets` a list, a JSON array or names separated
by commas or spaces; a number a number or numeric text; strings are trimmed as
JavaScript's `trim` does. Where the reference drops a value without a word (JSON
text that does not parse, JSON that is not an object, a secret that is not a
string, a number followed by other text), orch reports it: `InvalidField`, naming
the field and, for JSON, the line and column of the error in the text.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from compiler.diagnostics import Collector, FieldPath, PathPart
from orchapi.api import AGENT_RUN, SUB_ORCHESTRATION, TOOL_RUN
from orchapi.models import Step
from orchapi.names import quote
from orchapi.vocabulary import Reason

REFERENCE = "proompteng/lab@6b69af37 services/agents/src/server/orchestration-controller.ts"
# JavaScript's WhiteSpace and LineTerminator: what String.prototype.trim removes.
JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_TRIM = re.compile(rf"^[{JS_SPACE}]+|[{JS_SPACE}]+$")
# A decimal number as JavaScript's Number() reads a whole text (no hex, no sign
# before Infinity: those are not finite or not what a person means by seconds).
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_LEAD = re.compile(rf"^[{JS_SPACE}]+")
_JS_SPLIT = re.compile(rf"[{JS_SPACE},]+")  # ts:895 `/[\s,]+/g`: JavaScript's \s is JS_SPACE


T = TypeVar("T")


def js_trim(text: str) -> str:
    return _TRIM.sub("", text)


def as_string(value: Any) -> str | None:
    """`asString` (primitives.ts): a string that is not blank, trimmed."""
    if isinstance(value, str):
        trimmed = js_trim(value)
        return trimmed or None
    return None


def as_record(value: Any) -> dict[str, Any] | None:
    """`asRecord` (primitives.ts): an object that is not an array."""
    return value if isinstance(value, dict) else None


def read_nested(value: Any, path: Sequence[str]) -> Any:
    """`readNested` (primitives.ts): None where a step of the path is not an object."""
    cursor = value
    for key in path:
        if not isinstance(cursor, dict):
            return None
        cursor = cursor.get(key)
    return cursor


def normalize_string_map(value: Any) -> dict[str, str]:
    """`normalizeStringMap` (ts:442): nulls dropped, non-strings as JSON text."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else js_stringify(v)
            for k, v in value.items() if v is not None}


def step_parameters(run: Mapping[str, Any] | None, with_: Mapping[str, Any] | None
                    ) -> dict[str, str]:
    """`mergeParameters(orchestrationParams, normalizeStringMap(step.with))`
    (ts:1343, ts:453, ts:1552): the run's parameters overlaid by the step's `with`."""
    return {**normalize_string_map(dict(run or {})), **normalize_string_map(dict(with_ or {}))}


def js_stringify(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _js_number(value: int | float) -> int | float:
    """A number read from text, as JavaScript's JSON.stringify writes it back: an
    integral value is an integer ("1.0" is 1), except that integers stay exact
    (JavaScript would round one past 2**53: a user's value arrives unchanged)."""
    if isinstance(value, int):
        return value
    if not math.isfinite(value):
        raise ValueError("the number is too large")
    return int(value) if value.is_integer() and abs(value) < 1e21 else value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_float=lambda s: _js_number(float(s)),
                            parse_constant=_refuse_constant)


class Shape(enum.StrEnum):
    """How a field's value is read (contract §4)."""

    REF = "reference"  # {name}, a name, or with[FIELD]
    RECORD = "record"  # an object, or JSON text of one
    NAMES = "names"  # a list, a JSON array, or text separated by commas or spaces
    NUMBER = "number"  # a number, or numeric text
    NAME = "name"  # a name (string)
    PARAMETERS = "parameters"  # `with` itself


@dataclass(frozen=True)
class Field:
    """One key a kind reads: how, where the reference reads it, where orch puts it."""

    key: str
    shape: Shape
    lines: str  # ts lines where the reference reads (and places) it
    target: str  # where orch puts it, for a person
    in_with: bool = True  # read from with[key] when the step lacks it


WITH = "with"
# Keys every kind reads (the graph and the step's settings).
COMMON_KEYS = frozenset({"name", "kind", "dependsOn", "continueOnFailure", "retries",
                         "retryBackoffSeconds", "timeoutSeconds", WITH})

_AGENT = "AgentRun spec"
NOTHING = "nothing: the step is a no-op that succeeds, as in the reference"
READS: dict[str, tuple[Field, ...]] = {
    AGENT_RUN: (
        Field("agentRef", Shape.REF, "942-945, 993", f"{_AGENT}.agentRef {{name}}"),
        Field("implementationSpecRef", Shape.REF, "950-953, 994",
              f"{_AGENT}.implementationSpecRef {{name}}"),
        Field("implementation", Shape.RECORD, "954, 995", f"{_AGENT}.implementation"),
        Field(WITH, Shape.PARAMETERS, "1552, 996",
              f"{_AGENT}.parameters: the run's parameters overlaid by with (always present)",
              in_with=False),
        Field("memoryRef", Shape.REF, "965-968, 997", f"{_AGENT}.memoryRef {{name}}"),
        Field("secrets", Shape.NAMES, "969, 998", f"{_AGENT}.secrets, when not empty"),
        Field("policy", Shape.RECORD, "970, 999", f"{_AGENT}.policy"),
        Field("vcsRef", Shape.REF, "971-974, 1000", f"{_AGENT}.vcsRef {{name}}"),
        Field("vcsPolicy", Shape.RECORD, "975, 1001", f"{_AGENT}.vcsPolicy"),
        Field("goal", Shape.RECORD, "976, 1002", f"{_AGENT}.goal"),
        Field("runtime", Shape.RECORD, "960-962, 1003",
              f"{_AGENT}.runtime: {{type (default job), config (an object, when not empty)}}"),
        Field("workflow", Shape.RECORD, "964, 1004-1008",
              f"{_AGENT}.workflow, only when runtime.type is workflow "
              "(steps default to [{name: main}])"),
        Field("workload", Shape.RECORD, "963, 1010", f"{_AGENT}.workload"),
        Field("ttlSecondsAfterFinished", Shape.NUMBER, "977-979, 1011",
              f"{_AGENT}.ttlSecondsAfterFinished"),
    ),
    TOOL_RUN: (
        Field("toolRef", Shape.REF, "1049-1052",
              "the Tool whose container the step runs (its image, command, args, env, "
              "workingDir, serviceAccount, timeoutSeconds)"),
        Field(WITH, Shape.PARAMETERS, "1665, 1070, 621-641",
              "the Tool's {{parameters.NAME}}: the run's parameters overlaid by with",
              in_with=False),
    ),
    SUB_ORCHESTRATION: (
        Field("orchestrationRef", Shape.REF, "1108-1111, 1128",
              "child OrchestrationRun spec.orchestrationRef {name}"),
        Field(WITH, Shape.PARAMETERS, "1778, 1129",
              "child OrchestrationRun spec.parameters: the run's parameters overlaid by with "
              "(always present)", in_with=False),
    ),
    "ApprovalGate": (
        Field("policyRef", Shape.NAME, "1459",
              "the ApprovalPolicy whose status.phase decides the step (suspend node)"),
    ),
    "SignalWait": (
        Field("signalRef", Shape.NAME, "1495-1498",
              "the Signal a SignalDelivery's spec.signalRef.name must name (suspend node); "
              "a name on the step, else in with, else {name} on the step"),
        Field("deliveryId", Shape.NAME, "1499",
              "the SignalDelivery's spec.deliveryId it must carry"),
    ),
    # No-ops in the reference controller (ts:1527). Their memoryRef is the reference's
    # own key for them (its examples give it), read by nothing: it stays silent.
    "Checkpoint": (Field("memoryRef", Shape.REF, "1527", NOTHING),),
    "MemoryOp": (Field("memoryRef", Shape.REF, "1527", NOTHING),),
}


def keys_read(kind: str) -> tuple[str, ...]:
    """The step keys (besides `COMMON_KEYS`) a reference kind reads."""
    return tuple(f.key for f in READS.get(kind, ()) if f.key != WITH)


# -- the readers ---------------------------------------------------------------------------
class Reader:
    """Reads one step's fields as the reference does; what the reference would drop
    without a word goes to `out` as `InvalidField` at `path` (the step's path)."""

    def __init__(self, step: Mapping[str, Any], path: FieldPath | None = None,
                 out: Collector | None = None) -> None:
        self.step = dict(step)
        self.path = path if path is not None else FieldPath()
        self.out = out if out is not None else Collector()
        with_ = self.step.get(WITH)
        self.with_: dict[str, Any] = with_ if isinstance(with_, dict) else {}
        # Where each field that gave a value was read: (key,), (key, "name") or (with, key).
        self.where: dict[str, tuple[PathPart, ...]] = {}

    def _found(self, key: str, value: T, where: tuple[PathPart, ...]) -> T:
        if value is not None:
            self.where[key] = where
        return value

    def _bad(self, where: tuple[PathPart, ...], message: str, hint: str | None = None
             ) -> None:
        self.out.add(Reason.INVALID_FIELD, self.path.child(*where), message,
                     names=(str(where[-1]),), hint=hint)

    def ref(self, key: str, *, typed: bool = False) -> str | None:
        """`asString(step[key].name) ?? asString(step[key]) ?? asString(with[key])`
        (ts:942). `typed`: the models check the step's own value (agentRef...)."""
        own = self.step.get(key)
        name = as_string(read_nested(own, ("name",))) or as_string(own)
        if name is None and own is not None and not typed:
            if isinstance(own, dict):
                inner = own.get("name")
                if inner is not None and not isinstance(inner, str):
                    self._bad((key, "name"), f"{key}.name must be a name, got {_shown(inner)}")
            elif not isinstance(own, str):
                self._bad((key,), f"{key} must be {{name: ...}} or a name, got {_shown(own)}")
        if name is not None:
            return self._found(key, name, (key, "name") if isinstance(own, dict) else (key,))
        return self._found(key, as_string(self.with_.get(key)), (WITH, key))

    def name(self, key: str) -> str | None:
        """`asString(step[key]) ?? asString(with[key])` (ts:1459, ts:1499)."""
        own = self._found(key, as_string(self.step.get(key)), (key,))
        return own if own is not None else self._found(key, as_string(self.with_.get(key)),
                                                       (WITH, key))

    def signal(self) -> str | None:
        """ts:1495: a name on the step, else in with, else the step's {name}."""
        own, key = self.step.get("signalRef"), "signalRef"
        for value, where in ((as_string(own), (key,)),
                             (as_string(self.with_.get(key)), (WITH, key)),
                             (as_string(read_nested(own, ("name",))), (key, "name"))):
            if value is not None:
                return self._found(key, value, where)
        return None

    def record(self, key: str) -> dict[str, Any] | None:
        """`readStepRecord` (ts:910): `parseJsonRecord(step[key]) ??
        parseJsonRecord(with[key])`."""
        own = self._found(key, self._record(self.step.get(key), (key,)), (key,))
        if own is not None:
            return dict(own)
        found = self._found(key, self._record(self.with_.get(key), (WITH, key)), (WITH, key))
        return None if found is None else dict(found)

    def _record(self, value: Any, where: tuple[str, ...]) -> dict[str, Any] | None:
        """`parseJsonRecord` (ts:867)."""
        if value is None or isinstance(value, dict):
            return value
        if not isinstance(value, str):
            self._bad(where, f"{where[-1]} must be an object or JSON text of one, "
                      f"got {_shown(value)}")
            return None
        if not js_trim(value):
            return None  # blank text: no value, as the reference reads it
        parsed = self._json(value, where)
        if parsed is _INVALID:
            return None
        if not isinstance(parsed, dict):
            self._bad(where, f"{where[-1]} must be JSON text of an object, got {_shown(parsed)}")
            return None
        return parsed

    def _json(self, text: str, where: tuple[str, ...]) -> Any:
        """JSON.parse of the trimmed text; an error names its place in `text`."""
        trimmed = js_trim(text)
        lead = len(text) - len(_LEAD.sub("", text))
        try:
            return _DECODER.decode(trimmed)
        except ValueError as exc:
            at = lead + getattr(exc, "pos", 0)
            line = text.count("\n", 0, at) + 1
            column = at - (text.rfind("\n", 0, at) + 1) + 1
            why = getattr(exc, "msg", str(exc))
            self._bad(where, f"{where[-1]} is not valid JSON: {why} at line {line} column "
                      f"{column} (character {at + 1}) of its text",
                      hint="the reference controller would drop it without a word")
            return _INVALID

    def names(self, key: str) -> list[str]:
        """`parseStringArray(step[key] ?? with[key])` (ts:969, ts:880)."""
        own = self.step.get(key)
        where = (key,) if own is not None else (WITH, key)
        value = own if own is not None else self.with_.get(key)
        if value is not None:
            self.where[key] = where
        if isinstance(value, list):
            return self._strings(value, where)
        if value is not None and not isinstance(value, str):
            self._bad(where, f"{key} must be a list, a JSON array or names separated by "
                      f"commas or spaces, got {_shown(value)}")
            return []
        text = js_trim(value or "")
        if not text:
            return []
        if text.startswith("["):
            parsed = self._json(value or "", where)
            if parsed is _INVALID:
                return []
            if isinstance(parsed, list):
                return self._strings(parsed, where)
        return [item for item in _JS_SPLIT.split(text) if item]

    def _strings(self, items: list[Any], where: tuple[str, ...]) -> list[str]:
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self._bad((*where, i), f"{where[-1]}[{i}] must be a string, got "
                          f"{_shown(item)}; the reference controller would drop it")
        return [item for item in items if isinstance(item, str) and js_trim(item)]

    def number(self, key: str) -> int | float | None:
        """`parseOptionalStepNumber(step[key] ?? with[key])` (ts:977, ts:902), but
        text that is not wholly a number is reported, not read up to its junk."""
        own = self.step.get(key)
        where = (key,) if own is not None else (WITH, key)
        value = own if own is not None else self.with_.get(key)
        if value is None:
            return None
        self.where[key] = where
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self._bad(where, f"{key} must be a number or numeric text, got {_shown(value)}")
            return None
        if isinstance(value, str):
            text = js_trim(value)
            if not text:
                return None
            if not _NUMBER.fullmatch(text):
                self._bad(where, f"{key} must be a number or numeric text, got {quote(value)}")
                return None
            value = text
        try:
            return _js_number(float(value) if isinstance(value, str) else value)
        except (ValueError, OverflowError):
            self._bad(where, f"{key} must be a finite number, got {_shown(value)}")
            return None


class _Invalid:
    """JSON text that did not parse (already reported)."""


_INVALID: Any = _Invalid()


def _shown(value: Any) -> str:
    kinds = {bool: "boolean", int: "number", float: "number", list: "list", dict: "object",
             str: "string"}
    if isinstance(value, str):
        text = quote(value, 40)
    else:
        text = js_stringify(value) if not isinstance(value, float) or math.isfinite(value) \
            else str(value)
        text = text if len(text) <= 40 else text[:37] + "..."
    return f"{kinds.get(type(value), type(value).__name__)} {text}"


# -- what each kind builds ------------------------------------------------------------------
def agent_run_spec(reader: Reader, parameters: Mapping[str, str]) -> dict[str, Any]:
    """The AgentRun spec `submitAgentRunStep` builds (ts:934-1012), key for key and
    in its order. Without agentRef it has none (the check reports it)."""
    spec: dict[str, Any] = {}
    agent = reader.ref("agentRef", typed=True)
    if agent:
        spec["agentRef"] = {"name": agent}
    impl_ref = reader.ref("implementationSpecRef")
    if impl_ref:
        spec["implementationSpecRef"] = {"name": impl_ref}
    implementation = reader.record("implementation")
    if implementation is not None:
        spec["implementation"] = implementation
    spec["parameters"] = dict(parameters)
    memory = reader.ref("memoryRef")
    if memory:
        spec["memoryRef"] = {"name": memory}
    secrets = reader.names("secrets")
    if secrets:
        spec["secrets"] = secrets
    policy = reader.record("policy")
    if policy is not None:
        spec["policy"] = policy
    vcs = reader.ref("vcsRef")
    if vcs:
        spec["vcsRef"] = {"name": vcs}
    for key in ("vcsPolicy", "goal"):
        value = reader.record(key)
        if value is not None:
            spec[key] = value
    runtime = reader.record("runtime") or {}
    kind = as_string(runtime.get("type")) or "job"
    config = as_record(runtime.get("config")) or {}
    spec["runtime"] = {"type": kind, **({"config": config} if config else {})}
    workflow = reader.record("workflow")
    if kind == "workflow":
        spec["workflow"] = workflow if workflow is not None and "steps" in workflow \
            else {**(workflow or {}), "steps": [{"name": "main"}]}
    workload = reader.record("workload")
    if workload is not None:
        spec["workload"] = workload
    ttl = reader.number("ttlSecondsAfterFinished")
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return spec


def reader_of(step: Step) -> Reader:
    """A reader of a validated step (its problems were reported by validation)."""
    return Reader(step.model_dump(by_alias=True, exclude_none=True))


def ref_of(step: Step, key: str) -> str | None:
    """The name a step's reference resolves to (the step's, else its with's)."""
    return reader_of(step).ref(key, typed=True)


def sub_orchestration_spec(reader: Reader, parameters: Mapping[str, str]) -> dict[str, Any]:
    """The child OrchestrationRun spec `submitSubOrchestrationStep` builds (ts:1127)."""
    name = reader.ref("orchestrationRef", typed=True)
    return {**({"orchestrationRef": {"name": name}} if name else {}),
            "parameters": dict(parameters)}


def field_table() -> str:
    """The docs' table of what each reference kind reads (Markdown)."""
    file = REFERENCE.rsplit("/", 1)[1]
    rows = ["| kind | field | read as | where the reference reads it | where orch puts it |",
            "|---|---|---|---|---|"]
    for kind, fields in READS.items():
        for f in fields:
            key = "`with`" if f.key == WITH else f"`{f.key}`" + (
                f" (or `with.{f.key}`)" if f.in_with else "")
            rows.append(f"| {kind} | {key} | {f.shape} | {file}:{f.lines} | {f.target} |")
    return "\n".join(rows) + "\n"
