"""User data against a Kubernetes schema (`schemas/k8s-container.json`), every
problem as a diagnostic with its path.

Why not jsonschema: the messages must name the field path and suggest the
field a typo meant, and the compiler's runtime dependencies stay small. The
schema is structural (`type`, `properties`, `items`, `additionalProperties`,
`required`, `enum`, `$ref`) plus one type of ours, `quantity`: a Kubernetes
resource quantity, a number or a string such as `500m` or `1Gi`.
Types are strict, as the apiserver's are: `runAsUser: "1000"` is refused.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from compiler.diagnostics import Collector, FieldPath
from orchapi.names import quote, suggest
from orchapi.vocabulary import Reason

SCHEMA_PATH = str(Path(__file__).with_name("schemas") / "k8s-container.json")
Schema = dict[str, Any]

# k8s.io/apimachinery v0.36.3 pkg/api/resource/quantity.go (parseQuantityString):
# a signed decimal number, then a binary (Ki..Ei), decimal (n u m k M G T P E)
# or exponent (e/E) suffix.
QUANTITY = re.compile(
    r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?")
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "boolean": (bool,), "number": (int, float),
    "array": (list,), "object": (dict,),
}
_NAMES = {"string": "a string", "integer": "an integer", "boolean": "true or false",
          "number": "a number", "array": "a list", "object": "a mapping",
          "quantity": "a quantity such as 500m, 2 or 1Gi",
          "int-or-string": "an integer or a string"}


@functools.cache
def load_schema() -> Schema:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        schema: Schema = json.load(fh)
    return schema


def definition(name: str) -> Schema:
    node: Schema = load_schema()["definitions"][name]
    return node


def check_value(value: Any, node: Schema, path: FieldPath, out: Collector) -> None:
    """Every way `value` breaks `node`, as `InvalidField` diagnostics."""
    while "$ref" in node:
        node = definition(node["$ref"])
    kind = node.get("type", "object")
    if not _is(value, kind):
        out.add(Reason.INVALID_FIELD, path,
                f"must be {_NAMES.get(kind, kind)}, got {_describe(value)}")
        return
    if "enum" in node and value not in node["enum"]:
        out.add(Reason.INVALID_FIELD, path,
                f"{quote(str(value))} is not one of {', '.join(node['enum'])}")
    if isinstance(value, list) and "items" in node:
        for i, item in enumerate(value):
            check_value(item, node["items"], path.child(i), out)
    elif isinstance(value, dict):
        _check_object(value, node, path, out)


def _check_object(value: dict[Any, Any], node: Schema, path: FieldPath, out: Collector) -> None:
    props: Schema = node.get("properties") or {}
    extra = node.get("additionalProperties")
    for key, item in value.items():
        if not isinstance(key, str):
            out.add(Reason.INVALID_FIELD, path, f"keys must be strings, got {_describe(key)}")
        elif key in props:
            check_value(item, props[key], path.child(key), out)
        elif isinstance(extra, dict):
            check_value(item, extra, path.child(key), out)
        elif props:
            guess = suggest(key, props)
            out.add(Reason.INVALID_FIELD, path.child(key),
                    f"unknown field {quote(key)}",
                    hint=f'did you mean "{guess}"?' if guess else None, names=(key,))
    for key in node.get("required") or ():
        if key not in value:
            out.add(Reason.INVALID_FIELD, path.child(key), f"required field {key} is missing",
                    names=(key,))


def _is(value: Any, kind: str) -> bool:
    if kind == "quantity":
        if isinstance(value, str):
            return QUANTITY.fullmatch(value) is not None
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "int-or-string":
        return isinstance(value, str | int) and not isinstance(value, bool)
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, _TYPES.get(kind, (object,)))


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return quote(value, 40)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return "a list" if isinstance(value, list) else "a mapping"


def normalized(value: Any, node: Schema) -> Any:
    """`value` (valid against `node`) with every numeric quantity as its string
    (`cpu: 2` -> `"2"`): Kubernetes reads both, Argo's schema types a quantity as
    a string."""
    while "$ref" in node:
        node = definition(node["$ref"])
    kind = node.get("type")
    if kind == "quantity" and not isinstance(value, str):
        return str(value)
    if isinstance(value, list) and "items" in node:
        return [normalized(item, node["items"]) for item in value]
    if isinstance(value, dict):
        props: Schema = node.get("properties") or {}
        extra = node.get("additionalProperties")
        return {k: normalized(v, props[k]) if k in props
                else normalized(v, extra) if isinstance(extra, dict) else v
                for k, v in value.items()}
    return value
