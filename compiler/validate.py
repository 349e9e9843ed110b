"""Check one document against the contract's §2; every problem at once.

Each check_* function adds diagnostics to a Collector and never raises, so the
CLI, `-o json` and the controller's `Ready=False` condition render the same list.
The graph checks read the raw data leniently (a step with a wrong-typed field
still contributes its name), so one mistake does not hide or fake another.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from compiler.diagnostics import ROOT, Collector, FieldPath
from compiler.kinds import COMPILER_TEMPLATES, KINDS, RESERVED_TEMPLATE_NAMES
from compiler.kinds.base import check_name, check_with_keys
from compiler.kinds.template import KIND as TEMPLATE_STEP
from compiler.kinds.template import VALUE_EXPANDED, VALUE_HINT
from compiler.policies import check_policies
from compiler.tools import Tool
from compiler.unknown_keys import check_orchestration_keys, check_run_keys, check_tool_keys
from orchapi.api import (
    API_VERSION,
    MAX_STEPS,
    ORCHESTRATION_KIND,
    RUN_KIND,
    TOOL_KIND,
    TOOLS_API_VERSION,
)
from orchapi.graph import find_cycles
from orchapi.models import Orchestration, OrchestrationRun
from orchapi.names import (
    DNS_SUBDOMAIN_NAME,
    NAMESPACE,
    PARAMETER,
    TEMPLATE,
    did_you_mean,
    quote,
    suggest,
    task_name_problem,
)
from orchapi.records import UnsureError
from orchapi.vocabulary import Reason

DOCUMENT_KINDS = (ORCHESTRATION_KIND, RUN_KIND)
# The reference system's documents orch reads besides its own: a ToolRun step
# compiles to its Tool's container (contract §4).
FOREIGN_KINDS = {(TOOLS_API_VERSION, TOOL_KIND)}
ModelT = TypeVar("ModelT", Orchestration, OrchestrationRun, Tool)
STEPS = FieldPath(("spec", "steps"))

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "literal_error": "one of the allowed values",
}


def _expected(kind: str, ctx: Mapping[str, Any], msg: str) -> str:
    if kind == "greater_than_equal":
        return f"at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"at most {ctx.get('le')}"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} long"
    return _EXPECTED.get(kind, msg[0].lower() + msg[1:] if msg else "valid")


def describe(value: Any) -> str:
    """A value as a person reads it in a message: its YAML type and the value as
    JSON writes it (`null`, `boolean true`, `string "3"`), shortened."""
    names = {
        str: "string",
        int: "integer",
        bool: "boolean",
        float: "number",
        list: "list",
        dict: "mapping",
    }
    if value is None:
        return "null"
    kind = names.get(type(value), type(value).__name__)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def check_document_kind(data: Any, out: Collector) -> str | None:
    """The document's kind if it is one of ours, else a diagnostic and None."""
    if not isinstance(data, dict):
        out.add(
            Reason.INVALID_YAML,
            ROOT,
            f"a document must be a mapping with apiVersion and kind, got {describe(data)}",
        )
        return None
    api_version, kind = data.get("apiVersion"), data.get("kind")
    if (api_version, kind) in FOREIGN_KINDS:
        return str(kind)
    if api_version != API_VERSION or kind not in DOCUMENT_KINDS:
        if api_version or kind:
            message = (
                f"unsupported document {api_version or '(no apiVersion)'}/{kind or '(no kind)'}"
            )
        else:
            message = "a document without apiVersion and kind is not an orch resource"
        near = suggest(str(kind), DOCUMENT_KINDS) if isinstance(kind, str) else None
        near_api = (suggest(api_version, (API_VERSION,)) if isinstance(api_version, str)
                    and api_version != API_VERSION else None)
        guesses = [f'apiVersion "{near_api}"'] if near_api else []
        guesses += [f'kind "{near}"'] if near and near != kind else []
        out.add(
            Reason.UNSUPPORTED_DOCUMENT_KIND,
            FieldPath(("kind",)) if "kind" in data else ROOT,
            message,
            hint=f"did you mean {' and '.join(guesses)}?" if guesses
            else f"orch reads {API_VERSION} Orchestration and OrchestrationRun, and "
            f"{TOOLS_API_VERSION} Tool",
            names=(str(kind),),
        )
        return None
    return str(kind)


def check_models(data: dict[str, Any], model: type[ModelT], out: Collector) -> ModelT | None:
    """Types and required fields, via the pydantic models (all errors at once);
    the validated model when the types are right."""
    try:
        return model.read(data)
    except UnsureError:
        pass
    # Only a document the records cannot accept at a glance loads pydantic
    # (`orchapi.records`): its twin judges it, and its errors are the diagnostics.
    from pydantic import ValidationError

    try:
        return model.judged(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            path = FieldPath(loc)
            if loc[:2] == ("spec", "steps") and len(loc) == 4 and loc[3] in ("name", "kind"):
                continue  # reported by check_steps with their own reasons
            if loc == ("spec", "steps") and err["type"] in ("missing", "too_short"):
                continue  # MissingSteps
            if loc in (("apiVersion",), ("kind",)):
                continue
            if "[key]" in loc:
                at = FieldPath(tuple(str(p) for p in loc[: loc.index("[key]") - 1]))
                out.add(
                    Reason.INVALID_FIELD,
                    at,
                    f"keys must be strings, got {describe(err.get('input'))}",
                    hint="quote the key: YAML reads yes/no/on/off and numbers as non-strings",
                )
            elif err["type"] == "missing":
                # Required fields of steps and a missing spec have their own
                # reasons (MissingStepField, MissingSteps) from the checks below.
                if loc[:2] != ("spec", "steps") and loc != ("spec",):
                    out.add(Reason.INVALID_FIELD, path, f"required field {path} is missing")
            else:
                expected = _expected(err["type"], err.get("ctx") or {}, err["msg"])
                out.add(
                    Reason.INVALID_FIELD,
                    path,
                    f"must be {expected}, got {describe(err.get('input'))}",
                )
    return None


def _steps(data: dict[str, Any], out: Collector, max_steps: int) -> list[Any] | None:
    spec = data.get("spec")
    if not isinstance(spec, dict):
        if spec is None:
            out.add(
                Reason.MISSING_STEPS, FieldPath(("spec",)), "the orchestration has no spec.steps"
            )
        return None
    steps = spec.get("steps")
    if steps is None or steps == []:
        out.add(
            Reason.MISSING_STEPS,
            STEPS,
            "the orchestration has no steps",
            hint="add at least one step with a name and a kind",
        )
        return None
    if not isinstance(steps, list):
        return None  # InvalidField from check_models
    if len(steps) > max_steps:
        out.add(
            Reason.TOO_MANY_STEPS,
            STEPS,
            f"{len(steps)} steps; at most {max_steps} are allowed (maxSteps)",
            hint="split it into SubOrchestration steps, or raise --max-steps (the chart's "
            "orchestrationController.maxSteps)",
        )
    return steps


def check_orchestration(
    data: dict[str, Any], out: Collector, *, strict: bool = False, max_steps: int = MAX_STEPS
) -> Orchestration | None:
    """Every §2 problem of one Orchestration document; the model when it has none.
    `strict`: every unknown key is an error (else only misspellings warn);
    `max_steps`: more steps are `TooManySteps` (contract §8)."""
    before = len(out.items)
    check_orchestration_keys(data, out, strict=strict)
    model = check_models(data, Orchestration, out)
    check_metadata_name(data, out)
    steps = _steps(data, out, max_steps)
    if steps is None:
        return None
    names = check_steps(steps, out)
    edges = check_dependencies(steps, names, out)
    check_cycles(edges, steps, names, out)
    check_entrypoint(data.get("spec", {}), out)
    check_policies(data.get("spec"), out, strict=strict)
    for i, step in enumerate(steps):
        if isinstance(step, dict) and isinstance(step.get("kind"), str):
            kind = KINDS.get(step["kind"])
            if kind is not None:
                check_with_keys(step, STEPS.child(i), out, kind.parameter_name)
                kind.check(step, STEPS.child(i), out)
    return _unless_errors(model, out, before)


def _unless_errors(model: ModelT | None, out: Collector, since: int) -> ModelT | None:
    return None if any(d.is_error for d in out.items[since:]) else model


def check_metadata_name(data: dict[str, Any], out: Collector) -> None:
    """The object's name (a Kubernetes object name) and, when the user wrote one,
    its namespace (a DNS label): both land in the Workflow's metadata."""
    meta = data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    path = FieldPath(("metadata", "name"))
    if name is None:
        out.add(
            Reason.INVALID_FIELD, path, "metadata.name is missing", hint="give the resource a name"
        )
    else:
        check_name(name, DNS_SUBDOMAIN_NAME, path, out)
    if isinstance(meta, dict) and meta.get("namespace") is not None:
        check_name(meta["namespace"], NAMESPACE, FieldPath(("metadata", "namespace")), out)


def check_steps(steps: Sequence[Any], out: Collector) -> dict[str, int]:
    """Names and kinds; returns each distinct usable name's first index."""
    first: dict[str, int] = {}
    for i, step in enumerate(steps):
        path = STEPS.child(i)
        if not isinstance(step, dict):
            out.add(Reason.INVALID_FIELD, path, f"a step must be a mapping, got {describe(step)}")
            continue
        name = step.get("name")
        if name is None or name == "":
            out.add(Reason.STEP_MISSING_NAME, path.child("name"), f"step {i} has no name")
        elif not isinstance(name, str):
            out.add(
                Reason.INVALID_FIELD,
                path.child("name"),
                f"a step name must be a string, got {describe(name)}",
            )
        else:
            problem = task_name_problem(name)
            if problem:
                out.add(
                    Reason.INVALID_STEP_NAME,
                    path.child("name"),
                    f"step name {quote(name)} {problem}",
                    names=(name,),
                )
            if name in first:
                out.add(
                    Reason.DUPLICATE_STEP,
                    path.child("name"),
                    f'step "{name}" is declared twice (first as spec.steps[{first[name]}])',
                    names=(name,),
                )
            else:
                first[name] = i
        kind = step.get("kind")
        if kind is None or kind == "":
            out.add(
                Reason.STEP_MISSING_KIND,
                path.child("kind"),
                f'step "{name}" has no kind' if isinstance(name, str) else f"step {i} has no kind",
                hint="one of " + ", ".join(KINDS),
            )
        elif not isinstance(kind, str):
            out.add(
                Reason.INVALID_FIELD,
                path.child("kind"),
                f"a step kind must be a string, got {describe(kind)}",
            )
        elif kind not in KINDS:
            guess = suggest(kind, KINDS)
            out.add(
                Reason.UNSUPPORTED_STEP_KIND,
                path.child("kind"),
                f'step kind "{kind}" cannot be compiled',
                hint=f'did you mean "{guess}"?' if guess else "one of " + ", ".join(KINDS),
                names=(kind,),
            )
    return first


def check_dependencies(
    steps: Sequence[Any], names: Mapping[str, int], out: Collector
) -> dict[str, list[str]]:
    """Unknown, self and repeated dependencies; returns the usable edges."""
    edges: dict[str, list[str]] = {name: [] for name in names}
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or "dependsOn" not in step:
            continue
        deps = step["dependsOn"]
        if not isinstance(deps, list):
            continue  # InvalidField from check_models
        name = step.get("name")
        own = isinstance(name, str) and names.get(name) == i
        seen: set[str] = set()
        for j, dep in enumerate(deps):
            path = STEPS.child(i, "dependsOn", j)
            if not isinstance(dep, str):
                continue
            if dep == name:
                out.add(
                    Reason.INVALID_DEPENDENCY,
                    path,
                    f'step "{dep}" depends on itself',
                    names=(dep,),
                    hint="remove it from its own dependsOn",
                )
            elif dep in seen:
                out.add(
                    Reason.INVALID_DEPENDENCY,
                    path,
                    f'dependency "{dep}" is listed twice',
                    names=(dep,),
                )
            elif dep not in names:
                guess = suggest(dep, names)
                out.add(
                    Reason.MISSING_DEPENDENCY,
                    path,
                    f'step "{dep}" does not exist',
                    names=(dep,),
                    hint=did_you_mean(dep, guess) if guess else None,
                )
            elif own and isinstance(name, str):
                edges[name].append(dep)
            seen.add(dep)
    return edges


def check_cycles(
    edges: Mapping[str, Sequence[str]],
    steps: Sequence[Any],
    index: Mapping[str, int],
    out: Collector,
) -> None:
    """One `DependencyCycle` per strongly connected component, at the edge that
    leaves its first-declared step."""
    for cycle in find_cycles(edges):
        head = cycle[0]
        position = steps[index[head]]["dependsOn"].index(cycle[1])
        out.add(
            Reason.DEPENDENCY_CYCLE,
            STEPS.child(index[head], "dependsOn", position),
            "dependency cycle: " + " -> ".join(cycle),
            names=tuple(cycle[:-1]),
            hint="each step depends on the next; break one edge",
        )


def check_entrypoint(spec: Any, out: Collector) -> None:
    """A valid template name. The step templates yield to it (`emit._intern`
    renames one that would take it), and so do a split run's part templates, so it
    never collides with them; the compiler's own templates' names are reserved
    (`compiler.kinds.RESERVED_TEMPLATE_NAMES`), because the status mirror and the
    controller recognise those templates by their names."""
    if not isinstance(spec, dict) or "entrypoint" not in spec:
        return
    entry = spec["entrypoint"]
    path = FieldPath(("spec", "entrypoint"))
    if not isinstance(entry, str):
        return  # InvalidField from check_models
    problem = TEMPLATE.problem(entry)
    if problem:
        out.add(
            Reason.ENTRYPOINT_MISSING,
            path,
            f"entrypoint {quote(entry)} {problem}",
            hint="the default is main",
        )
    elif entry in RESERVED_TEMPLATE_NAMES:
        out.add(
            Reason.ENTRYPOINT_MISSING,
            path,
            f"entrypoint {quote(entry)} is reserved: orch gives its "
            f"{COMPILER_TEMPLATES[entry]} template that name, and reads run status by it",
            hint="choose another name, e.g. main",
        )


def check_run(
    data: dict[str, Any], out: Collector, *, strict: bool = False
) -> OrchestrationRun | None:
    """Every problem of one OrchestrationRun document; the model when it has none."""
    before = len(out.items)
    check_run_keys(data, out, strict=strict)
    model = check_models(data, OrchestrationRun, out)
    check_metadata_name(data, out)
    spec = data.get("spec")
    params = spec.get("parameters") if isinstance(spec, dict) else None
    if isinstance(params, dict):
        for key in params:  # each becomes an argument of the Workflow
            check_name(key, PARAMETER, FieldPath(("spec", "parameters", str(key))), out)
    return _unless_errors(model, out, before)


def check_tool(data: dict[str, Any], out: Collector, *, strict: bool = False) -> Tool | None:
    """A Tool document, as the reference CRD takes it (its fields are judged where
    a ToolRun step uses it); the model when it has no problem."""
    before = len(out.items)
    check_tool_keys(data, out, strict=strict)
    model = check_models(data, Tool, out)
    check_metadata_name(data, out)
    return _unless_errors(model, out, before)


def check_run_parameters(
    orchestration: Orchestration, run: OrchestrationRun, out: Collector
) -> None:
    """What a run's parameters become in this Orchestration's steps: every step
    receives all of them (under its own `with`), so a name must fit each kind's
    parameter grammar (a Container's are environment variable names), and a value
    that would reach a Template step may not hold `{{` (contract §2): besides the
    task's arguments, the run's parameters are the Workflow's global parameters,
    which a referenced WorkflowTemplate can read."""
    params = run.spec.parameters or {}
    for key, value in params.items():
        path = FieldPath(("spec", "parameters", key))
        for step in orchestration.spec.steps:
            kind = KINDS[step.kind]
            if kind.parameter_name is not PARAMETER:
                problem = kind.parameter_name.problem(key)
                if problem:
                    out.add(Reason.INVALID_FIELD, path,
                            f'run parameter {quote(key)} reaches {step.kind} step "{step.name}", '
                            f"where it {problem}", names=(key, step.name))
                    break
        template = next((s for s in orchestration.spec.steps if s.kind == TEMPLATE_STEP.name), None)
        if template is not None and "{{" in value:
            out.add(Reason.INVALID_FIELD, path,
                    f'run parameter {quote(key)} reaches Template step "{template.name}": '
                    + VALUE_EXPANDED, names=(key, template.name), hint=VALUE_HINT)
