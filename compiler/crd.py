"""The CRDs of `Orchestration` and `OrchestrationRun`, generated from `orchapi.models`.

Why: the CRDs the chart ships and the models the compiler parses with must never
disagree, so the CRDs are derived from the models (as controller-gen derives them
from Go types) and a test fails when the committed files drift (`make crds`).

What the generator adds to the models' JSON Schema, and why:

- A *structural* schema (what the apiserver demands): `$ref` inlined, `Optional[X]`
  as plain `X` (absent, not null), a `type` on every node; free-form objects and
  models marked `PRESERVE_UNKNOWN_FIELDS` (steps, step statuses: unknown keys are
  kept, as the reference CRDs keep them) get `x-kubernetes-preserve-unknown-fields`.
  Defaults are left out: the apiserver would write them into stored objects, and the
  compiler applies them anyway.
- Bounds: at most `maxSteps` steps (contract §8; `orch crds --max-steps`, default
  `MAX_STEPS`, 10,000; the model itself accepts more so that the compiler can report
  `TooManySteps`), as many dependencies per step, dependency names of at most
  `MAX_NAME_LENGTH` characters (longer names can match no step).
- CEL rules that reject at admission what admission can judge, where the apiserver
  can afford them: duplicate step names, a dependency on a name no step has, a step
  depending on itself, `with` keys that are no parameter names. Their estimated
  cost grows with the steps (quadratically for the first three): at 10,000 steps
  the apiserver refuses the CRD (measured on 1.36: 10x to over 100x its per-rule
  budget; tests/e2e/test_crd_admission.py), so they are generated only up to
  `CEL_STEPS` (200) steps; above, the controller reports the same problems (the
  Orchestration's phase `Invalid`, contract §2.4), as it always did. They use
  CEL's two-variable comprehensions (CEL environment 1.32), which an apiserver
  offers to new rules from 1.33 on (it accepts its previous minor's features); the
  chart declares `kubeVersion: >=1.33.0-0`.
- A run's spec is immutable once the run exists, field by field (transition rules
  generated from the model, so a new field is covered), except the fields in
  `MUTABLE_RUN_SPEC_FIELDS` (`cancel`): contract §5.
- Map lists on `status.conditions` (key `type`) and `status.stepStatuses` (key
  `name`), the status subresource and the printer columns of `kubectl get`; a
  run's `spec.orchestrationRef.name` and `spec.deliveryId` as selectable fields.

The CRDs accept every object the reference CRDs accept except objects the contract
already calls invalid (a reference without its `name`, or whose name is not a
Kubernetes object name; negative counts, more than `maxSteps` steps, names over 128
characters, the CEL rules above).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from orchapi.api import GENERATED_BY_ANNOTATION, INT32_MAX, MAX_STEPS, ORCHESTRATION_KIND, RUN_KIND
from orchapi.api import GROUP as API_GROUP
from orchapi.models import MAX_NAME_LENGTH, MUTABLE_RUN_SPEC_FIELDS
from orchapi.names import (
    DNS_SUBDOMAIN_NAME,
    ENV_VAR_NAME,
    IMAGE,
    PARAMETER,
    TEMPLATE,
    WORKFLOW_TEMPLATE_NAME,
    Grammar,
)
from orchapi.schema import (
    OrchestrationRunSpec,
    OrchestrationRunStatus,
    OrchestrationSpec,
    OrchestrationStatus,
)

Schema = dict[str, Any]
VERSION = "v1alpha1"
PRESERVE = "x-kubernetes-preserve-unknown-fields"

# JSON Schema keys carried over unchanged; any other key is a construct this
# generator does not know how to make structural, and fails loudly.
_KEPT = frozenset({
    "type", "description", "properties", "required", "items", "enum", "format",
    "maxItems", "minItems", "maxLength", "minLength", "minimum", "maximum", "pattern",
    "maxProperties",
    PRESERVE,
})
_DROPPED = frozenset({"title", "default"})

_API_VERSION_DOC = (
    "APIVersion defines the versioned schema of this representation of an object. "
    "Servers should convert recognized schemas to the latest internal value, and may "
    "reject unrecognized values. More info: https://git.k8s.io/community/contributors/"
    "devel/sig-architecture/api-conventions.md#resources"
)
_KIND_DOC = (
    "Kind is a string value representing the REST resource this object represents. "
    "Servers may infer this from the endpoint the client submits requests to. Cannot be "
    "updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#types-kinds"
)


class NotStructuralError(ValueError):
    """A model construct with no structural OpenAPI equivalent (e.g. a real union)."""


def structural_schema(model: type[BaseModel]) -> Schema:
    """The model's JSON Schema (by alias) as a structural OpenAPI v3 schema."""
    raw = model.model_json_schema(by_alias=True)
    defs: dict[str, Schema] = raw.pop("$defs", {})
    return _convert(raw, defs, where=model.__name__)


def _resolve(node: Schema, defs: dict[str, Schema]) -> Schema:
    """Inline `$ref` and collapse `anyOf: [X, null]` to X. Descriptions come from
    `Field(description=...)` only: a class docstring speaks to developers, and would
    otherwise show in `kubectl explain`."""
    while True:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            target = {k: v for k, v in defs[name].items() if k != "description"}
            node = {**target, **rest}
        elif "anyOf" in node:
            options = [o for o in node["anyOf"] if o != {"type": "null"}]
            if len(options) != 1:
                raise NotStructuralError(f"union of {len(options)} types: {node['anyOf']}")
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            node = {**options[0], **rest}
        else:
            return node


def _convert(node: Schema, defs: dict[str, Schema], where: str) -> Schema:
    node = _resolve(node, defs)
    out: Schema = {}
    if "const" in node:
        out["enum"] = [node["const"]]
    for key, value in node.items():
        if key in _DROPPED or key in ("const", "additionalProperties"):
            continue
        if key not in _KEPT:
            raise NotStructuralError(f"{where}: unsupported JSON Schema key {key!r}")
        if key == "properties":
            out[key] = {name: _convert(sub, defs, f"{where}.{name}")
                        for name, sub in value.items()}
        elif key == "items":
            out[key] = _convert(value, defs, f"{where}[]")
        else:
            out[key] = copy.deepcopy(value)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        out["additionalProperties"] = _convert(extra, defs, f"{where}{{}}")
    elif extra is not None and "properties" not in node:
        out[PRESERVE] = True  # free-form object: dict[str, Any]
    if "type" not in out and PRESERVE not in out:
        out[PRESERVE] = True  # Any
    if out.get("type") == "integer" and "format" not in out:
        out["format"] = "int32" if out.get("maximum") == INT32_MAX else "int64"
    return _ordered(out)


# Readable key order in the generated YAML: what a node is, then what it holds.
_ORDER = ("description", "type", "format", "enum", "minimum", "maximum", "minLength",
          "maxLength", "pattern", "minItems", "maxItems", "maxProperties",
          "x-kubernetes-list-type",
          "x-kubernetes-list-map-keys", PRESERVE, "properties", "additionalProperties",
          "items", "required", "x-kubernetes-validations")


def _ordered(node: Schema) -> Schema:
    rank = {k: i for i, k in enumerate(_ORDER)}
    return dict(sorted(node.items(), key=lambda kv: rank.get(kv[0], len(rank))))


# --- CEL rules on spec.steps ------------------------------------------------------
# `first` maps each step name to the index of its first step (later duplicates are
# filtered out, so building the map never fails); `[map].all(first, ...)` binds it
# once, which keeps a lookup O(1) and the rule's cost linear in the dependencies.
# Messages name the first offending step. The cost estimator forgets the size of a
# string built inside a comprehension, so a message is built in the last `map` from
# indexes found before it (`self[i].name` has a known maximum length).
_FIRST = ("[self.transformMapEntry(i, s, !self.exists(j, t, j < i && t.name == s.name), "
          "{s.name: i})]")
_UNKNOWN_AT = (  # [step index, dependsOn index] of the first unknown dependency
    f"{_FIRST}.map(first, [self.transformList(i, s, has(s.dependsOn) && "
    "s.dependsOn.exists(d, !(d in first)), i)[0]].map(i, [i, "
    "self[i].dependsOn.transformList(k, d, !(d in first), k)[0]])[0])[0]"
)

STEP_RULES: tuple[Schema, ...] = (
    {
        "rule": "self.all(s, self.exists_one(t, t.name == s.name))",
        "messageExpression": (
            "[self.transformList(i, s, self.exists(j, t, j > i && t.name == s.name), i)[0]]"
            ".map(i, 'step names must be unique: more than one step is named \"' + "
            "self[i].name + '\"')[0]"
        ),
        "reason": "FieldValueInvalid",
    },
    {
        "rule": (f"{_FIRST}.all(first, self.all(s, !has(s.dependsOn) || "
                 "s.dependsOn.all(d, d in first)))"),
        "messageExpression": (
            f"[{_UNKNOWN_AT}].map(p, 'step \"' + self[p[0]].name + '\" depends on \"' + "
            "self[p[0]].dependsOn[p[1]] + '\", but no step has that name')[0]"
        ),
        "reason": "FieldValueInvalid",
    },
    {
        "rule": "self.all(s, !has(s.dependsOn) || !(s.name in s.dependsOn))",
        "messageExpression": (
            "[self.transformList(i, s, has(s.dependsOn) && s.name in s.dependsOn, i)[0]]"
            ".map(i, 'step \"' + self[i].name + '\" depends on itself')[0]"
        ),
        "reason": "FieldValueInvalid",
    },
)


def immutable_field_rules(spec: Schema, mutable: frozenset[str]) -> list[Schema]:
    """One transition rule per field of `spec` not in `mutable`: once the object
    exists the field may not be added, removed or changed (a rule per field, so a
    field added to the model later is covered, and the message names it)."""
    required = set(spec.get("required") or ())
    rules: list[Schema] = []
    for name in spec["properties"]:
        if name in mutable:
            continue
        same = f"self.{name} == oldSelf.{name}"
        rule = same if name in required else (
            f"has(self.{name}) == has(oldSelf.{name}) && (!has(self.{name}) || {same})")
        allowed = ", ".join(f"spec.{m}" for m in sorted(mutable)) or "nothing"
        rules.append({"rule": rule,
                      "message": f"spec.{name} cannot change once the run exists "
                                 f"(only {allowed} can); create a new run instead",
                      "fieldPath": f".{name}", "reason": "FieldValueForbidden"})
    return rules


# --- Names a user writes into Argo and Kubernetes name fields (issue 9) -----------
# Each is held to its field's grammar (orchapi.names): a `pattern` where the name
# is a value (no CEL cost), a CEL rule where it is a map key. A step's `with` keys
# are Argo parameter names, a Container's environment variable names; bounding the
# map is what lets the rule's estimated cost fit 200 steps. A Template step's
# values holding `{{` and names that depend on another object (a run's parameters
# reaching a Container step) cannot be judged here at a cost the apiserver
# accepts: the controller refuses them (InvalidField).
PARAMETER_KEYS_RULE: Schema = {
    "rule": f"self.all(k, k.matches(r'{PARAMETER.anchored}'))",
    "message": f"parameter names must be Argo parameter names: {PARAMETER.rule} "
               f"({PARAMETER.pattern})",
    "reason": "FieldValueInvalid",
}
WITH_KEYS_RULE: Schema = {
    "rule": ("!has(self.with) || (self.kind == 'Container' "
             f"? self.with.all(k, k.matches(r'{ENV_VAR_NAME.anchored}')) "
             f": self.with.all(k, k.matches(r'{PARAMETER.anchored}')))"),
    "message": (f"with keys must be Argo parameter names ({PARAMETER.pattern}); a Container "
                f"step's are environment variable names ({ENV_VAR_NAME.pattern})"),
    "reason": "FieldValueInvalid",
}


def _pattern(node: Schema, grammar: Grammar) -> None:
    node["pattern"] = grammar.anchored
    if grammar.max_length is not None:
        node["maxLength"] = grammar.max_length
    node.update(_ordered(node))


# Object names a step or run refers to (contract §6: references are Kubernetes
# names, checked before any request): the apiserver refuses `.`, `a/b`, ... at
# admission, so no controller or script ever reads with one.
STEP_REFERENCES = ("agentRef", "toolRef", "orchestrationRef")
RUN_REFERENCES = ("orchestrationRef", "resumeFrom")


def _reference(node: Schema) -> None:
    """`node`, an object with a `name` (or a name itself), holds an object name."""
    props = node.get("properties")
    _pattern(props["name"] if props and "name" in props else node, DNS_SUBDOMAIN_NAME)


def _user_names(step: Schema, cel: bool) -> None:
    props = step["properties"]
    for ref in STEP_REFERENCES:
        _reference(props[ref])
    _pattern(props["policyRef"], DNS_SUBDOMAIN_NAME)
    _pattern(props["image"], IMAGE)
    _pattern(props["env"]["items"]["properties"]["name"], ENV_VAR_NAME)
    _pattern(props["templateRef"]["properties"]["name"], WORKFLOW_TEMPLATE_NAME)
    _pattern(props["templateRef"]["properties"]["template"], TEMPLATE)
    if cel:
        step["x-kubernetes-validations"] = [dict(WITH_KEYS_RULE)]
    step.update(_ordered(step))


# A run's fields a field selector may name: the controller lists the runs of one
# delivery by them (contract §5: one execution per Orchestration and deliveryId),
# as does `orch submit --delivery-id`, without reading the namespace's runs.
SELECTABLE_RUN_FIELDS = ("orchestrationRef.name", "deliveryId")


def _printer_column(name: str, path: str, kind: str = "string", priority: int = 0,
                    description: str = "") -> Schema:
    column: Schema = {"name": name, "type": kind, "jsonPath": path}
    if description:
        column["description"] = description
    if priority:
        column["priority"] = priority
    return column


_AGE = _printer_column("Age", ".metadata.creationTimestamp", "date")


def _condition_column(name: str, condition: str) -> Schema:
    return _printer_column(name, f'.status.conditions[?(@.type=="{condition}")].status',
                           description=f"Status of the {condition} condition")


def _map_list(node: Schema, key: str) -> None:
    """A list whose items are identified by `key` (merge-patched by that key)."""
    node["x-kubernetes-list-type"] = "map"
    node["x-kubernetes-list-map-keys"] = [key]
    node.update(_ordered(node))


def _root(spec: Schema, status: Schema) -> Schema:
    return {
        "type": "object",
        "properties": {
            "apiVersion": {"description": _API_VERSION_DOC, "type": "string"},
            "kind": {"description": _KIND_DOC, "type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
        "required": ["spec"],
    }


CATEGORY = "orch"
"""Both kinds' category (`kubectl get orch` lists both); no kind's name."""


def _crd(kind: str, plural: str, schema: Schema, columns: list[Schema]) -> Schema:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{API_GROUP}",
            "annotations": {GENERATED_BY_ANNOTATION: "orch crds"},
        },
        "spec": {
            "group": API_GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                # Not "orchestration": kubectl expands a category before it
                # resolves a resource name, so that category made `kubectl
                # delete orchestration --all` delete every run too (contract §1).
                "categories": [CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [{
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": schema},
            }],
        },
    }


def _with_status_lists(status: Schema) -> Schema:
    props = status["properties"]
    _map_list(props["conditions"], "type")
    if "stepStatuses" in props:
        _map_list(props["stepStatuses"], "name")
    return status


# The most steps at which the CEL rules on steps stay within the apiserver's cost
# budget (proven at 200 by tests/e2e/test_crd_admission.py's densest graph).
CEL_STEPS = 200


def orchestration_crd(max_steps: int = MAX_STEPS) -> Schema:
    spec = structural_schema(OrchestrationSpec)
    steps = spec["properties"]["steps"]
    steps["maxItems"] = max_steps
    cel = max_steps <= CEL_STEPS
    if cel:
        steps["x-kubernetes-validations"] = [dict(r) for r in STEP_RULES]
    steps.update(_ordered(steps))
    depends_on = steps["items"]["properties"]["dependsOn"]
    depends_on["maxItems"] = max_steps
    depends_on["items"]["maxLength"] = MAX_NAME_LENGTH
    depends_on.update(_ordered(depends_on))
    _user_names(steps["items"], cel)
    status = _with_status_lists(structural_schema(OrchestrationStatus))
    columns = [
        _printer_column("Phase", ".status.phase"),
        _condition_column("Ready", "Ready"),
        _printer_column("Entrypoint", ".spec.entrypoint", priority=1),
        _AGE,
    ]
    return _crd(ORCHESTRATION_KIND, "orchestrations", _root(spec, status), columns)


def orchestration_run_crd(max_steps: int = MAX_STEPS) -> Schema:
    spec = structural_schema(OrchestrationRunSpec)
    rerun = spec["properties"]["resumeFrom"]["properties"]["rerun"]
    rerun["maxItems"] = max_steps
    rerun.update(_ordered(rerun))
    spec["x-kubernetes-validations"] = immutable_field_rules(spec, MUTABLE_RUN_SPEC_FIELDS)
    spec.update(_ordered(spec))
    for ref in RUN_REFERENCES:
        _reference(spec["properties"][ref])
    parameters = spec["properties"]["parameters"]
    parameters["x-kubernetes-validations"] = [dict(PARAMETER_KEYS_RULE)]
    parameters.update(_ordered(parameters))
    status = _with_status_lists(structural_schema(OrchestrationRunStatus))
    columns = [
        _printer_column("Phase", ".status.phase"),
        _printer_column("Orchestration", ".spec.orchestrationRef.name"),
        _printer_column("Steps", ".status.progress", description="Steps ended / all steps"),
        _condition_column("Succeeded", "Succeeded"),
        _printer_column("RunId", ".status.runId", priority=1),
        _AGE,
    ]
    crd = _crd(RUN_KIND, "orchestrationruns", _root(spec, status), columns)
    crd["spec"]["versions"][0]["selectableFields"] = [
        {"jsonPath": f".spec.{path}"} for path in SELECTABLE_RUN_FIELDS]
    return crd


GENERATORS: dict[str, Callable[[int], Schema]] = {
    f"{API_GROUP}_orchestrations.yaml": orchestration_crd,
    f"{API_GROUP}_orchestrationruns.yaml": orchestration_run_crd,
}


def generate_crds(max_steps: int = MAX_STEPS) -> dict[str, Schema]:
    """File name (as controller-gen names them) -> CRD manifest, bounded at
    `max_steps` steps (contract §8)."""
    return {name: build(max_steps) for name, build in GENERATORS.items()}
