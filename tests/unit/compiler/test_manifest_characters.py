"""Every character of a user's value reaches the object a resource template
creates (issue 10): the JSON spec handed to the manifest escapes what the
executor's YAML reader would refuse (DEL, C1 controls, U+FFFE) or fold into a
space (U+0085, U+2028, U+2029). Read back here with Go's own reader (the
`yamlread` tool: apimachinery's splitter + sigs.k8s.io/yaml, as kubectl and
Argo's executor read a manifest)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.emit import emit_workflow
from compiler.inputs import parse_text
from compiler.kinds.base import no_expansion_json
from compiler.render import to_yaml
from tests.cluster.tools import bin_dir

UNSAFE = "\x7f\x80\x85\x9f\u2028\u2029\ufeff\ufffe\uffff"
HOSTILE = st.text(alphabet=st.sampled_from(
    [*UNSAFE, "{", "}", "$", "(", "'", '"', "\\", "\n", "\r", "\t", "\x00", "\x1b", "a", " ",
     ":", "#", "é", "\U0001f600"]), max_size=12)
VALUES = st.dictionaries(HOSTILE, HOSTILE | st.lists(HOSTILE, max_size=3), max_size=4)


def _yamlread() -> Path:
    tool = bin_dir() / "yamlread"
    if not tool.exists():
        pytest.skip(f"{tool} not built (tools/build.sh builds it)")
    return tool


def go_read(documents: list[str]) -> list[Any]:
    proc = subprocess.run([str(_yamlread())], input="---\n".join(documents).encode(),
                          capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    # One JSON document a line; str.splitlines would also split at U+0085, U+2028.
    return [json.loads(line) for line in proc.stdout.decode().split("\n") if line]


@settings(max_examples=25, deadline=None)
@given(st.lists(VALUES, min_size=40, max_size=80))
def test_the_manifest_reader_gives_back_every_character(values: list[dict[str, Any]]) -> None:
    texts = [no_expansion_json(v) for v in values]
    assert not [t for t in texts if "{{" in t or set(t) & set(UNSAFE)]
    # The manifest line the resource template holds: `spec: {{inputs.parameters.spec}}`.
    read = go_read([f"kind: AgentRun\nspec: {t}\n" for t in texts])
    assert [doc["spec"] for doc in read] == values


def test_the_compiled_workflow_holds_none_of_them_raw() -> None:
    """DEL made `argo lint` fail; C1 and U+FFFE made the executor's reader refuse
    the manifest; the line breaks became spaces (issue 10, on the code before)."""
    doc = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
           "metadata": {"name": "o"}, "spec": {"steps": [
               {"name": "a", "kind": "AgentRun", "agentRef": {"name": "x"},
                "implementationSpecRef": {"name": "i"}, "with": {"v": UNSAFE}},
               {"name": "s", "kind": "SubOrchestration", "orchestrationRef": {"name": "c"},
                "with": {"v": UNSAFE}},
               {"name": "t", "kind": "AgentRun", "agentRef": {"name": "x"},
                "implementationSpecRef": {"name": "i"},
                "runtime": {"type": "job", "config": {"note": UNSAFE}},
                "with": {"v": UNSAFE}}]}}
    parsed = parse_text(yaml.safe_dump(doc), "t.yaml")
    ((_, orch),) = parsed.orchestrations
    text = to_yaml([emit_workflow(orch).workflow])
    assert not set(text) & set(UNSAFE)
    (workflow,) = go_read([text])
    specs = [p["value"] for t in workflow["spec"]["templates"][0]["dag"]["tasks"]
             for p in t["arguments"]["parameters"] if p["name"] == "spec"]
    manifests = go_read([f"spec: {s}\n" for s in specs])
    assert [m["spec"]["parameters"]["v"] for m in manifests] == [UNSAFE] * 3
    assert manifests[2]["spec"]["runtime"] == {"type": "job", "config": {"note": UNSAFE}}
