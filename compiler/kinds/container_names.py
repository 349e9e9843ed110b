"""The names a Container step gives Kubernetes through its pod (the Secrets and
ConfigMaps its env reads and their keys, envFrom's prefix, its volumes and what
mounts them), checked as the apiserver checks the pod: k8s.io/kubernetes v1.36.3
pkg/apis/core/validation/validation.go, cited by function below.

Why before submission: the apiserver judges these only when Argo creates the
step's pod, so a bad name compiled, the Workflow started, and the step failed at
run time with the apiserver's message, after every step before it had run. The
schema check (`compiler.schema_check`) knows their types, not their grammar. A
name holding `{{` is refused already (Argo would evaluate it); it is not judged
twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from compiler.diagnostics import Collector, FieldPath
from orchapi.names import (
    CONFIG_KEY,
    CONFIG_MAP_NAME,
    ENV_VAR_NAME,
    SECRET_NAME,
    VOLUME_NAME,
    Grammar,
    quote,
    suggest,
)
from orchapi.vocabulary import Reason

POD_REFUSED = "the apiserver would refuse the step's pod when Argo creates it"
# valueFrom's selectors and envFrom's sources: the key, and the grammar of its name.
KEY_SELECTORS = (("secretKeyRef", SECRET_NAME), ("configMapKeyRef", CONFIG_MAP_NAME))
ENV_SOURCES = (("configMapRef", CONFIG_MAP_NAME), ("secretRef", SECRET_NAME))


def check_container_names(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    for i, item in _dicts(step.get("env")):
        value_from = item.get("valueFrom")
        for key, grammar in KEY_SELECTORS:
            selector = value_from.get(key) if isinstance(value_from, dict) else None
            if isinstance(selector, dict):
                # validateSecretKeySelector / validateConfigMapKeySelector: the name
                # is judged even when empty; the key is required (the schema's).
                at = path.child("env", i, "valueFrom", key)
                _name(selector.get("name", ""), grammar, at.child("name"), out)
                if isinstance(selector.get("key"), str):
                    _name(selector["key"], CONFIG_KEY, at.child("key"), out)
    for i, item in _dicts(step.get("envFrom")):
        prefix = item.get("prefix")
        if isinstance(prefix, str) and prefix:  # ValidateEnvFrom: IsEnvVarName when given
            _name(prefix, ENV_VAR_NAME, path.child("envFrom", i, "prefix"), out,
                  what="envFrom prefix")
        for key, grammar in ENV_SOURCES:  # validateConfigMapEnvSource / validateSecretEnvSource
            source = item.get(key)
            if isinstance(source, dict):
                _name(source.get("name", ""), grammar, path.child("envFrom", i, key, "name"), out)
    volumes = _volume_names(step, path, out)
    _check_mounts(step, volumes, path, out)


def _volume_names(step: dict[str, Any], path: FieldPath, out: Collector) -> list[str]:
    """ValidateVolumes: each name a DNS-1123 label, none twice; the names given."""
    names: list[str] = []
    for i, item in _dicts(step.get("volumes")):
        name = item.get("name")
        if not isinstance(name, str):
            continue  # the schema's to report
        at = path.child("volumes", i, "name")
        if _name(name, VOLUME_NAME, at, out) and name in names:
            out.add(Reason.INVALID_FIELD, at, f"volume {quote(name)} is given twice; a pod's "
                    "volume names are unique", names=(name,), hint=POD_REFUSED)
        names.append(name)
    return names


def _check_mounts(step: dict[str, Any], volumes: list[str], path: FieldPath,
                  out: Collector) -> None:
    """ValidateVolumeMounts: the name of one of the pod's volumes (a step's pod has
    the step's own; Argo's are its executor's), a mountPath, none twice."""
    paths: set[str] = set()
    for i, item in _dicts(step.get("volumeMounts")):
        at = path.child("volumeMounts", i)
        name, mount_path = item.get("name"), item.get("mountPath")
        if isinstance(name, str) and "{{" not in name and name not in volumes:
            shown = ", ".join(map(quote, dict.fromkeys(volumes))) if volumes else "none"
            guess = suggest(name, volumes)
            out.add(Reason.INVALID_FIELD, at.child("name"),
                    f"volumeMount {quote(name)} names no volume of the step (its volumes: "
                    f"{shown})", names=(name,),
                    hint=f"did you mean {quote(guess)}?" if guess else POD_REFUSED)
        if mount_path == "":
            out.add(Reason.INVALID_FIELD, at.child("mountPath"),
                    "mountPath is empty; Kubernetes requires the path to mount the volume at",
                    names=("mountPath",), hint=POD_REFUSED)
        elif isinstance(mount_path, str):
            if mount_path in paths:
                out.add(Reason.INVALID_FIELD, at.child("mountPath"),
                        f"mountPath {quote(mount_path)} is mounted twice; Kubernetes requires "
                        "each mount's path to be unique", names=(mount_path,), hint=POD_REFUSED)
            paths.add(mount_path)


def _name(value: Any, grammar: Grammar, path: FieldPath, out: Collector,
          what: str | None = None) -> bool:
    """`InvalidField` naming the value and the grammar when `value` breaks it; True
    when it is usable."""
    if not isinstance(value, str) or "{{" in value:
        return False  # the schema's, or the brace check's, to report
    what = what or grammar.what
    if value == "":
        out.add(Reason.INVALID_FIELD, path, f"the {what} is empty; Kubernetes requires one: "
                f"{grammar.rule}", names=(str(path.parts[-1]),), hint=POD_REFUSED)
        return False
    problem = grammar.problem(value)
    if problem is None:
        return True
    out.add(Reason.INVALID_FIELD, path, f"{quote(value)} {problem}", names=(value,),
            hint=POD_REFUSED)
    return False


def _dicts(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, item in enumerate(value if isinstance(value, list) else ()):
        if isinstance(item, dict):
            yield i, item
