"""Misspelled keys are named, one spelling is read, and `--strict` refuses
every key orch does not read (issue 10). Before, `dependOn` silently made a
step a root, and `depends_on`/`continue_on_failure` were quietly honoured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.emit import emit_workflow
from compiler.inputs import parse_text
from compiler.unknown_keys import STEP_KEYS, distance, meant
from operate.cli import main
from orchapi.vocabulary import Reason
from tests.support.argo import SHARED_ABSENT, jangar_documents


def _doc(*steps: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
            "metadata": {"name": "o"}, "spec": {**spec, "steps": list(steps)}}


A = {"name": "a", "kind": "Checkpoint"}


def diagnostics(doc: dict[str, Any], strict: bool = False) -> list[tuple[str, str, str | None]]:
    parsed = parse_text(yaml.safe_dump(doc), "t.yaml", strict=strict)
    return [(str(d.severity), str(d.path), d.hint) for d in parsed.diagnostics]


@pytest.mark.parametrize(("doc", "path", "meant_key"), [
    pytest.param(_doc(A, {**A, "name": "b", "dependOn": ["a"]}), "spec.steps[1].dependOn",
                 "dependsOn", id="dependOn"),
    pytest.param(_doc({**A, "continueOnFaliure": True}), "spec.steps[0].continueOnFaliure",
                 "continueOnFailure", id="continueOnFaliure"),
    pytest.param(_doc({"name": "c", "kind": "Container", "image": "x", "comand": ["ls"]}),
                 "spec.steps[0].comand", "command", id="comand"),
    pytest.param(_doc({**A, "retires": 3}), "spec.steps[0].retires", "retries", id="retires"),
    pytest.param(_doc(A, entrypont="main"), "spec.entrypont", "entrypoint", id="entrypont"),
    pytest.param(_doc(A, {**A, "name": "b", "depends_on": ["a"]}), "spec.steps[1].depends_on",
                 "dependsOn", id="depends_on"),
    pytest.param(_doc({**A, "continue_on_failure": True}), "spec.steps[0].continue_on_failure",
                 "continueOnFailure", id="continue_on_failure"),
    pytest.param(_doc({"name": "t", "kind": "Template",
                       "templateRef": {"name": "w", "template": "t", "clusterscope": True}}),
                 "spec.steps[0].templateRef.clusterscope", "clusterScope", id="clusterscope"),
    pytest.param(_doc({"name": "s", "kind": "ToolRun", "toolRef": {"name": "t", "nmae": "t"}}),
                 "spec.steps[0].toolRef.nmae", "name", id="ref-nmae"),
])
def test_a_misspelled_key_is_a_warning_with_did_you_mean(
        doc: dict[str, Any], path: str, meant_key: str) -> None:
    assert ("warning", path, f'did you mean "{meant_key}"?') in diagnostics(doc)
    assert ("error", path, f'did you mean "{meant_key}"?') in diagnostics(doc, strict=True)


def test_snake_case_is_not_read() -> None:
    doc = _doc(A, {**A, "name": "b"}, {**A, "name": "c", "depends_on": ["a"],
                                         "continue_on_failure": True})
    parsed = parse_text(yaml.safe_dump(doc), "t.yaml")
    ((_, orch),) = parsed.orchestrations
    tasks = emit_workflow(orch).workflow["spec"]["templates"][0]["dag"]["tasks"]
    assert tasks[2] == {"name": "c", "template": "no-op", "dependencies": ["b"]}  # sequential


def test_agent_ref_is_not_read_either() -> None:
    doc = _doc({"name": "a", "kind": "AgentRun", "agent_ref": {"name": "x"},
                "implementationSpecRef": {"name": "i"}})
    found = diagnostics(doc)
    assert ("error", "spec.steps[0].agentRef", None) in found
    assert ("warning", "spec.steps[0].agent_ref", 'did you mean "agentRef"?') in found


def test_an_unknown_key_far_from_any_is_silent_unless_strict() -> None:
    doc = _doc({**A, "frobnicate": 1})
    assert diagnostics(doc) == []
    assert diagnostics(doc, strict=True) == [("error", "spec.steps[0].frobnicate", None)]


def test_every_key_a_kind_reads_is_silent_on_that_kind_even_when_strict() -> None:
    from compiler.kinds import KINDS

    for kind in KINDS.values():
        for key in kind.extra_keys:
            assert key in STEP_KEYS, (kind.name, key)
            step = {"name": "a", "kind": kind.name, key: "x"}
            parsed = parse_text(yaml.safe_dump(_doc(step)), "t.yaml", strict=True)
            assert not [d for d in parsed.diagnostics if str(d.path) == f"spec.steps[0].{key}"
                        and (d.reason is Reason.IGNORED_FIELD or "unknown" in d.message)], key


# (kind of the step, a key another kind reads, the kinds that read it)
IGNORED = [
    pytest.param({"kind": "ToolRun", "toolRef": {"name": "t"}}, "image", "Container",
                 id="image-on-a-ToolRun"),
    pytest.param({"kind": "ToolRun", "toolRef": {"name": "t"}}, "command", "Container",
                 id="command-on-a-ToolRun"),
    pytest.param({"kind": "ToolRun", "toolRef": {"name": "t"}}, "env", "Container",
                 id="env-on-a-ToolRun"),
    pytest.param({"kind": "ApprovalGate", "policyRef": "p"}, "image", "Container",
                 id="image-on-an-ApprovalGate"),
    pytest.param({"kind": "Container", "image": "alpine"}, "toolRef", "ToolRun",
                 id="toolRef-on-a-Container"),
    pytest.param({"kind": "Container", "image": "alpine"}, "agentRef", "AgentRun",
                 id="agentRef-on-a-Container"),
    pytest.param({"kind": "AgentRun", "agentRef": {"name": "a"},
                  "implementationSpecRef": {"name": "i"}}, "policyRef", "ApprovalGate",
                 id="policyRef-on-an-AgentRun"),
    pytest.param({"kind": "ToolRun", "toolRef": {"name": "t"}}, "deliveryId", "SignalWait",
                 id="deliveryId-on-a-ToolRun"),
    pytest.param({"kind": "SubOrchestration", "orchestrationRef": {"name": "o"}},
                 "implementation", "AgentRun", id="implementation-on-a-SubOrchestration"),
    pytest.param({"kind": "Checkpoint"}, "templateRef", "Template",
                 id="templateRef-on-a-Checkpoint"),
]
VALUES = {"image": "alpine", "command": ["ls"], "env": [{"name": "A", "value": "b"}],
          "toolRef": {"name": "t"}, "agentRef": {"name": "a"}, "policyRef": "p",
          "deliveryId": "d", "implementation": {"inline": {"text": "x"}},
          "templateRef": {"name": "w", "template": "t"}}


@pytest.mark.parametrize(("step", "key", "readers"), IGNORED)
def test_a_key_the_kind_does_not_read_is_ignored_field(
        step: dict[str, Any], key: str, readers: str) -> None:
    """Contract §2 `IgnoredField`: a warning naming the kind; an error under --strict."""
    doc = _doc({"name": "a", **step, key: VALUES[key]})
    for strict, severity in ((False, "warning"), (True, "error")):
        parsed = parse_text(yaml.safe_dump(doc), "t.yaml", strict=strict)
        found = [d for d in parsed.diagnostics if d.reason is Reason.IGNORED_FIELD]
        assert [(str(d.severity), str(d.path)) for d in found] == [
            (severity, f"spec.steps[0].{key}")]
        assert f"{step['kind']} steps do not read {key}" in found[0].message
        assert found[0].hint == f"{key} is read by {readers} steps"
        assert found[0].names == (key, step["kind"])


def test_reference_documents_draw_no_unknown_key_diagnostic() -> None:
    paths = jangar_documents("Orchestration") + jangar_documents("OrchestrationRun")
    if not paths:
        pytest.skip(SHARED_ABSENT)
    for path in paths:
        if "crds" in path.parts:
            continue
        parsed = parse_text(path.read_text(), str(path), strict=True)
        assert not [d for d in parsed.diagnostics if "unknown field" in d.message
                    or d.reason is Reason.IGNORED_FIELD], path


@pytest.mark.parametrize(("a", "b", "edits"), [
    ("retires", "retries", 1), ("comand", "command", 1), ("dependOn", "dependsOn", 1),
    ("continueOnFaliure", "continueOnFailure", 1), ("abc", "abc", 0), ("", "ab", 2),
    ("kitten", "sitting", 3),
])
def test_distance(a: str, b: str, edits: int) -> None:
    assert distance(a, b) == edits == distance(b, a)


def test_meant_stays_quiet_for_short_or_distant_keys() -> None:
    assert meant("foo", STEP_KEYS) is None
    assert meant("x" * 10_000, STEP_KEYS) is None
    assert meant("DependsOn", STEP_KEYS) == "dependsOn"


@pytest.mark.parametrize("command", ["compile", "validate"])
def test_strict_flag(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "o.yaml"
    f.write_text(yaml.safe_dump(_doc({**A, "dependOn": []})))
    assert main([command, str(f)]) == 0
    assert "warning:" in capsys.readouterr().err
    assert main([command, "--strict", str(f)]) == 1
    err = capsys.readouterr().err
    assert 'spec.steps[0].dependOn: unknown field "dependOn"' in err
    assert 'did you mean "dependsOn"?' in err and "warning" not in err
