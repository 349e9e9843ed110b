"""Keys the compiler does not read: typos are named, the reference system's own
keys stay silent.

Why: the reference CRDs keep unknown step keys, so a misspelled `dependsOn`
(`dependOn`) used to make a step a root that ran at once, without a word. One
spelling is read (the CRD's camelCase); an unknown key close to a known one is
a warning with "did you mean", and with `--strict` every unknown key is an
error, as `kubectl --validate=strict` treats unknown fields. Keys a kind reads
from the step (`Kind.extra_keys`: `implementationSpecRef`, `memoryRef`, ...) and
the Container fields are known. `metadata` and `status` are not judged: objects
exported from a cluster carry the server's fields there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from compiler.diagnostics import Collector, FieldPath, Severity
from compiler.kinds import KINDS
from compiler.step_fields import COMMON_KEYS
from compiler.tools import ToolEnvVar, ToolSpec
from orchapi.models import NameRef, OrchestrationRunSpec, OrchestrationSpec, Step, TemplateRef
from orchapi.names import quote
from orchapi.records import Record
from orchapi.vocabulary import Reason

TOP = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})


def model_keys(model: type[Record]) -> frozenset[str]:
    """The keys a model reads (its aliases): the one spelling."""
    return frozenset(f.alias for f in model.model_fields.values())


STEP_KEYS = model_keys(Step) | frozenset(k for kind in KINDS.values() for k in kind.extra_keys)
REF_KEYS = model_keys(NameRef)
STEP_REFS = ("agentRef", "toolRef", "orchestrationRef", "implementationSpecRef", "memoryRef",
             "vcsRef")


def keys_of(kind: str) -> frozenset[str]:
    """The step keys a kind reads (the kind registry declares them)."""
    return COMMON_KEYS | frozenset(KINDS[kind].extra_keys)


def readers_of(key: str) -> list[str]:
    """The kinds that read `key`, in the registry's order."""
    return [name for name in KINDS if key in keys_of(name)]


def distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) from a to b."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def _camel(key: str) -> str:
    return re.sub(r"[_-]+([a-zA-Z0-9])", lambda m: m.group(1).upper(), key)


def meant(key: str, known: Iterable[str]) -> str | None:
    """The known key `key` is a misspelling of, if it is close to one: another
    spelling (`depends_on`, `DependsOn`) or one or two edits away (fewer for a
    short key)."""
    if len(key) > 64:
        return None
    by_fold = {k.lower(): k for k in known}
    folded = _camel(key).lower()
    if folded in by_fold:
        return by_fold[folded]
    limit = 1 if len(key) < 8 else 2
    near = sorted((distance(key.lower(), k.lower()), k) for k in known
                  if abs(len(k) - len(key)) <= limit)
    return near[0][1] if near and near[0][0] <= limit else None


def check_keys(data: Mapping[Any, Any], known: frozenset[str], path: FieldPath, out: Collector,
               *, strict: bool, where: str) -> None:
    """A warning per key of `data` that misspells a known one (an error with
    `strict`), and with `strict` an error per other unknown key."""
    for key in data:
        if not isinstance(key, str) or key in known:
            continue
        guess = meant(key, known)
        if guess is None and not strict:
            continue
        severity = Severity.ERROR if strict else Severity.WARNING
        message = f"unknown field {quote(key)}: {where}"
        out.add(Reason.INVALID_FIELD, path.child(key), message, severity=severity,
                hint=f'did you mean "{guess}"?' if guess else None, names=(key,))


def check_ignored(step: Mapping[Any, Any], kind: str, own: frozenset[str], path: FieldPath,
                  out: Collector, *, strict: bool) -> None:
    """`IgnoredField` (contract §2) for each key another kind reads but this one
    does not (`image` on a ToolRun): a warning naming the kind; with `strict`, an
    error."""
    for key in step:
        if not isinstance(key, str) or key in own or key not in STEP_KEYS:
            continue
        readers = readers_of(key)
        out.add(Reason.IGNORED_FIELD, path.child(key),
                f"{kind} steps do not read {key}; it is ignored",
                severity=Severity.ERROR if strict else Severity.WARNING, names=(key, kind),
                hint=f"{key} is read by {', '.join(readers)} steps" if readers else None)


def _check_resource(data: Mapping[str, Any], spec_keys: frozenset[str], out: Collector,
                    strict: bool, where: str) -> dict[str, Any] | None:
    """The keys of a resource's top level and of its spec; the spec, when a mapping."""
    check_keys(data, TOP, FieldPath(), out, strict=strict,
               where="not a field of the resource, ignored")
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return None
    check_keys(spec, spec_keys, FieldPath(("spec",)), out, strict=strict, where=where)
    return spec


def check_orchestration_keys(data: Mapping[str, Any], out: Collector, *, strict: bool) -> None:
    spec = _check_resource(data, model_keys(OrchestrationSpec), out, strict,
                           "not a field of an Orchestration's spec, ignored")
    if spec is None:
        return
    steps = spec.get("steps")
    for i, step in enumerate(steps if isinstance(steps, list) else ()):
        if not isinstance(step, dict):
            continue
        path = FieldPath(("spec", "steps", i))
        kind = step.get("kind")
        if isinstance(kind, str) and kind in KINDS:
            own = keys_of(kind)
            check_ignored(step, kind, own, path, out, strict=strict)
            check_keys({k: v for k, v in step.items() if k not in STEP_KEYS}, own, path, out,
                       strict=strict, where="orch reads no such step field")
        else:
            own = STEP_KEYS
            check_keys(step, STEP_KEYS, path, out, strict=strict,
                       where="orch reads no such step field")
        for key in STEP_REFS:
            if key in own and isinstance(step.get(key), dict):
                check_keys(step[key], REF_KEYS, path.child(key), out, strict=strict,
                           where="a reference holds only a name")
        if isinstance(step.get("templateRef"), dict):
            check_keys(step["templateRef"], model_keys(TemplateRef), path.child("templateRef"),
                       out, strict=strict, where="not a field of a templateRef, ignored")


def check_run_keys(data: Mapping[str, Any], out: Collector, *, strict: bool) -> None:
    spec = _check_resource(data, model_keys(OrchestrationRunSpec), out, strict,
                           "not a field of an OrchestrationRun's spec, ignored")
    if spec is None:
        return
    if isinstance(spec.get("orchestrationRef"), dict):
        check_keys(spec["orchestrationRef"], REF_KEYS, FieldPath(("spec", "orchestrationRef")),
                   out, strict=strict, where="a reference holds only a name")


def check_tool_keys(data: Mapping[str, Any], out: Collector, *, strict: bool) -> None:
    """A Tool's: its CRD keeps no unknown field (the apiserver prunes them)."""
    spec = _check_resource(data, model_keys(ToolSpec), out, strict,
                           "not a field of a Tool's spec; the Tool CRD drops it")
    if spec is None:
        return
    env = spec.get("env")
    for i, item in enumerate(env if isinstance(env, list) else ()):
        if isinstance(item, dict):
            check_keys(item, model_keys(ToolEnvVar), FieldPath(("spec", "env", i)), out,
                       strict=strict, where="a Tool's env entry holds only name and value")
