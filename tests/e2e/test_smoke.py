"""The chain end to end: `orch compile` -> apiserver -> real Argo -> kwok pods.

A diamond whose `b` fails must end with `a` and `c` Succeeded, `b` Failed and
`d` Omitted (Argo's word for a task whose dependencies failed), which is the
contract's `DependencyFailed`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cluster import Cluster
from tests.cluster.argo import node_phases
from tests.cluster.kwok import Failures

pytestmark = pytest.mark.e2e

DIAMOND = """\
apiVersion: orchestration.proompteng.ai/v1alpha1
kind: Orchestration
metadata:
  name: smoke-diamond
spec:
  steps:
    - {name: a, kind: Container, image: alpine:3.20, command: [sh, -c, "echo a"]}
    - {name: b, kind: Container, image: alpine:3.20, command: [sh, -c, "exit 1"], dependsOn: [a]}
    - {name: c, kind: Container, image: alpine:3.20, command: [sh, -c, "echo c"], dependsOn: [a]}
    - {name: d, kind: Container, image: alpine:3.20, command: [sh, -c, "echo d"],
       dependsOn: [b, c]}
"""


def orch_compile(path: Path) -> str:
    """The compiled Workflow as YAML text, from the `orch` console script."""
    orch = shutil.which("orch") or str(Path(sys.executable).with_name("orch"))
    out = subprocess.run([orch, "compile", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, f"orch compile failed ({out.returncode}):\n{out.stderr}"
    return out.stdout


def test_diamond_with_failing_branch(cluster: Cluster, fail_pods: Failures,
                                     tmp_path: Path) -> None:
    source = tmp_path / "diamond.yaml"
    source.write_text(DIAMOND)
    compiled = yaml.safe_load(orch_compile(source))
    assert compiled["kind"] == "Workflow"

    fail_pods.steps("smoke-diamond", ["b"])
    created = cluster.apply_yaml(yaml.safe_dump(compiled))
    assert len(created) == 1
    name = created[0]["metadata"]["name"]

    wf = cluster.wait_for_workflow(name, timeout=90)

    phases = node_phases(wf)
    assert {k: phases.get(k) for k in "abcd"} == {
        "a": "Succeeded", "b": "Failed", "c": "Succeeded", "d": "Omitted"}
    assert wf["status"]["phase"] == "Failed"
    pods = cluster.kube.list_objects("v1", "Pod", cluster.namespace,
                                     f"workflows.argoproj.io/workflow={name}")
    by_step = {p["metadata"]["labels"]["orchestration.proompteng.ai/step"]: p for p in pods}
    assert sorted(by_step) == ["a", "b", "c"]  # d never got a pod
    assert by_step["b"]["status"]["phase"] == "Failed"
    assert all(p["spec"]["nodeName"] == "kwok-node-0" for p in pods)  # set by kube-scheduler
