"""`helm lint` and `helm template` over the chart's documented values combinations.

Why: each `charts/orch/ci/<name>-values.yaml` is a combination a user is told
about (docs/chart.md); the chart must lint and render for every one of them, and
refuse values that break its schema with a message naming the key. The files
follow chart-testing's `ci/*-values.yaml` convention, so `ct lint` finds them too.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchapi.api import Obj
from tests.cluster.tools import REPO

CHART = REPO / "charts" / "orch"
CI_VALUES = CHART / "ci"
EXAMPLES = CHART / "examples"
# Argo objects the examples call (WorkflowTemplates): not Orchestration documents.
EXAMPLE_ARGO_OBJECTS = EXAMPLES / "argo"
RELEASE = "orch"
RELEASE_NAMESPACE = "orch-system"


# Values the schema (or a template's `fail`) must refuse, and the words of the
# refusal a user reads: the JSON path of the key and what is wrong with it.
BAD_VALUES: list[tuple[str, Obj, str]] = [
    ("wrong-type", {"orchestrationController": {"enabled": "yes"}},
     "at '/orchestrationController/enabled': got string, want boolean"),
    ("unknown-key", {"orchestrationController": {"namespace": ["a"]}},
     "at '/orchestrationController': additional properties 'namespace' not allowed"),
    ("unknown-top-level-key", {"replicas": 2},
     "at '': additional properties 'replicas' not allowed"),
    ("namespaces-as-a-string", {"orchestrationController": {"namespaces": "team-a,team-b"}},
     "at '/orchestrationController/namespaces': got string, want array"),
    ("namespace-not-a-dns-label", {"orchestrationController": {"namespaces": ["Team_A"]}},
     "at '/orchestrationController/namespaces/0'"),
    ("workflow-serviceaccount-with-all-namespaces",
     {"orchestrationController": {"namespaces": ["*"]}, "workflowServiceAccount": {"create": True}},
     "workflowServiceAccount.create needs the namespaces listed"),
    ("health-window-zero", {"orchestrationController": {"healthWindowSeconds": 0}},
     "at '/orchestrationController/healthWindowSeconds': exclusiveMinimum"),
    ("pod-policy-unknown-key", {"orchestrationController": {"podPolicy": {"secret": ["db"]}}},
     "at '/orchestrationController/podPolicy'"),

]


@dataclass(frozen=True)
class ValueSet:
    """A documented values combination: `defaults` has no file."""

    name: str
    file: Path | None

    @property
    def args(self) -> list[str]:
        return ["-f", str(self.file)] if self.file else []


def value_sets() -> list[ValueSet]:
    """The defaults, then every `ci/<name>-values.yaml`, by name."""
    files = sorted(CI_VALUES.glob("*-values.yaml"))
    return [ValueSet("defaults", None),
            *(ValueSet(f.name.removesuffix("-values.yaml"), f) for f in files)]


def example_files() -> list[Path]:
    """The Orchestration/OrchestrationRun examples (what `orch` reads)."""
    return sorted(EXAMPLES.glob("*.yaml"))


def example_argo_files() -> list[Path]:
    return sorted(EXAMPLE_ARGO_OBJECTS.glob("*.yaml"))


class HelmError(RuntimeError):
    """helm exited non-zero; the message is its output."""


def run_helm(bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """helm with a private HOME-less config: no repositories or plugins of the
    machine's user can change what it does."""
    env = {"PATH": "/usr/bin:/bin", "HELM_CACHE_HOME": "/nonexistent/cache",
           "HELM_CONFIG_HOME": "/nonexistent/config", "HELM_DATA_HOME": "/nonexistent/data"}
    return subprocess.run([str(bin_dir / "helm"), *args], capture_output=True, text=True,
                          check=False, timeout=60, env=env)


def lint(bin_dir: Path, values: ValueSet | list[str]) -> subprocess.CompletedProcess[str]:
    args = values.args if isinstance(values, ValueSet) else values
    return run_helm(bin_dir, "lint", "--strict", str(CHART), "--namespace", RELEASE_NAMESPACE,
                    *args)


def template(bin_dir: Path, values: ValueSet | list[str], namespace: str = RELEASE_NAMESPACE,
             release: str = RELEASE) -> list[Obj]:
    """The rendered objects (CRDs included, as `helm install` would create them)."""
    args = values.args if isinstance(values, ValueSet) else values
    out = run_helm(bin_dir, "template", release, str(CHART), "--namespace", namespace,
                   "--include-crds", *args)
    if out.returncode != 0:
        raise HelmError(out.stderr.strip() or out.stdout.strip())
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(objs: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objs if o.get("kind") == kind]


def container_env(deployment: Obj) -> dict[str, str]:
    """The controller container's literal env values (fieldRefs as `fieldRef:<path>`)."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for var in container.get("env") or ():
        if "value" in var:
            env[var["name"]] = str(var["value"])
        else:
            env[var["name"]] = "fieldRef:" + var["valueFrom"]["fieldRef"]["fieldPath"]
    return env
