"""Pod Security admission's own test pods, as the oracle of `compiler.pod_security`.

k8s.io/pod-security-admission generates, for each level and version, pods that
the level admits (`pass/`) and pods it refuses (`fail/`), one per check and case
(`test/testdata/<level>/<version>/`, written by its TestFixtures). The
`restricted` ones of the newest version (v1.35: no check changed in 1.36) are
kept here as one JSON file (their spec and annotations; Apache-2.0, from the
module's version below). Regenerate with
`python -m tests.support.psa_fixtures MODULE_DIR`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

FILE = Path(__file__).with_name("psa-restricted-v1.35.json")
VERSION, FOLDER = "v0.36.3", "test/testdata/restricted/v1.35"


def load() -> dict[str, dict[str, Any]]:
    """{"pass": {name: pod}, "fail": {name: pod}}; a pod is {spec, annotations}."""
    found: dict[str, dict[str, Any]] = json.loads(FILE.read_text(encoding="utf-8"))["pods"]
    return found


def generate(module: Path) -> dict[str, Any]:
    """From the module's directory (the Go module cache holds it once the test
    cluster's apiserver is built: `$(go env GOMODCACHE)/k8s.io/pod-security-admission@v0.36.3`)."""
    pods: dict[str, dict[str, Any]] = {"pass": {}, "fail": {}}
    for outcome, found in pods.items():
        for path in sorted((module / FOLDER / outcome).glob("*.yaml")):
            pod = yaml.safe_load(path.read_text(encoding="utf-8"))
            found[path.stem] = {
                "spec": pod["spec"],
                "annotations": (pod.get("metadata") or {}).get("annotations") or {}}
    return {"source": f"k8s.io/pod-security-admission {VERSION} {FOLDER}", "pods": pods}


def render(data: dict[str, Any]) -> str:
    """JSON, one pod a line (reviewable diffs, a third of the indented size)."""
    def compact(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    lines = [f'{{"source": {compact(data["source"])}, "pods": {{']
    for i, (outcome, pods) in enumerate(sorted(data["pods"].items())):
        lines.append(f" {compact(outcome)}: {{")
        lines += [f"  {compact(name)}: {compact(pod)}{',' if j < len(pods) - 1 else ''}"
                  for j, (name, pod) in enumerate(sorted(pods.items()))]
        lines.append(" }" + ("," if i < len(data["pods"]) - 1 else ""))
    return "\n".join([*lines, "}}", ""])


if __name__ == "__main__":
    FILE.write_text(render(generate(Path(sys.argv[1]))), encoding="utf-8")
