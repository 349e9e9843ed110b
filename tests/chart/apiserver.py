"""Objects applied to the test apiserver the way `kubectl apply --server-side`
would, keeping what the apiserver says besides the object: its `Warning` headers.

Why warnings matter: Pod Security admission in `warn` mode, deprecated APIs and
unknown fields (field validation `Warn`) all answer 2xx with a `Warning` header
and nothing else; a check that only looks at the status code misses them. The
chart's manifests must draw none.

The ServiceMonitor CRD comes from prometheus-operator's Go module (its
`example/prometheus-operator-crd/`), downloaded by `go mod download` into the Go
module cache like every other tool of the test cluster; v0.85.0 is the newest
version the module proxy serves (v0.86.0 and v0.87.0 answer 403).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from orchapi.api import Obj
from tests.cluster.kube import Kube

FIELD_MANAGER = "orch-chart-check"
PROMETHEUS_OPERATOR = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
SERVICEMONITOR_CRD = "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"


@dataclass
class Applied:
    """One object's answer: the object as the apiserver returned it, its warnings,
    or the error that refused it."""

    ref: str
    obj: Obj = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def clean(self) -> bool:
        return not self.error and not self.warnings


def ref_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {ns}{meta.get('name') or meta.get('generateName', '?')}"


def apply(kube: Kube, obj: Obj, dry_run: bool) -> Applied:
    """Server-side apply with strict field validation (unknown or duplicate fields
    are errors, not silently dropped). The object must name its namespace, as a
    chart's manifests do: nothing is defaulted here."""
    meta = obj.get("metadata") or {}
    applied = Applied(ref_of(obj))
    try:
        res = kube.resource(obj["apiVersion"], obj["kind"])
        kwargs: dict[str, Any] = {"field_validation": "Strict"}
        if dry_run:
            kwargs["dry_run"] = "All"
        resp = res.server_side_apply(
            body=obj, name=meta["name"], namespace=meta.get("namespace"),
            field_manager=FIELD_MANAGER, force_conflicts=True, serialize=False, **kwargs)
    except ApiException as e:
        try:
            applied.error = f"{e.status}: {json.loads(e.body or '{}').get('message') or e.body}"
        except ValueError:
            applied.error = f"{e.status}: {e.body}"
        return applied
    except Exception as e:  # the kind is not served (no CRD): discovery fails
        applied.error = f"{type(e).__name__}: {e}"
        return applied
    applied.obj = json.loads(resp.data)
    applied.warnings = list(resp.headers.getlist("Warning"))
    return applied


def apply_all(kube: Kube, objs: Iterable[Obj], dry_run: bool) -> list[Applied]:
    return [apply(kube, o, dry_run) for o in objs]


def ensure_namespaces(kube: Kube, names: Iterable[str], labels: dict[str, str] | None = None
                      ) -> None:
    """Create (really) the namespaces rendered objects live in: a dry-run of an
    object in a missing namespace is refused with 404."""
    for name in sorted(set(names)):
        meta: Obj = {"name": name}
        if labels:
            meta["labels"] = labels
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})


def namespaces_of(objs: Iterable[Obj]) -> set[str]:
    return {str(o["metadata"]["namespace"]) for o in objs
            if (o.get("metadata") or {}).get("namespace")}


class CrdUnavailableError(RuntimeError):
    """`go mod download` could not provide the CRD; the message says why."""


def servicemonitor_crd() -> Path:
    """The ServiceMonitor CRD file in the Go module cache (downloaded if absent)."""
    with tempfile.TemporaryDirectory() as tmp:  # `go mod download` outside a module
        try:
            out = subprocess.run(
                ["go", "mod", "download", "-json", PROMETHEUS_OPERATOR],
                capture_output=True, text=True, timeout=300, cwd=tmp, check=False,
                env={**os.environ, "GOFLAGS": "-mod=mod"})
        except (OSError, subprocess.TimeoutExpired) as e:
            raise CrdUnavailableError(f"go mod download {PROMETHEUS_OPERATOR}: {e}") from e
    try:
        info: dict[str, str] = json.loads(out.stdout)
    except ValueError:
        raise CrdUnavailableError(
            f"go mod download {PROMETHEUS_OPERATOR}: {out.stderr.strip()}") from None
    if info.get("Error") or not info.get("Dir"):
        raise CrdUnavailableError(f"go mod download {PROMETHEUS_OPERATOR}: {info.get('Error')}")
    path = Path(info["Dir"]) / SERVICEMONITOR_CRD
    if not path.is_file():
        raise CrdUnavailableError(f"{SERVICEMONITOR_CRD} not in {info['Dir']}")
    return path
