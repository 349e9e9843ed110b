"""Nothing a user writes reaches Argo's expression engine (issue 9 §1).

Every user-writable field of a document that uses every kind and every field
(names, keys, references, values, images, the fields a Container carries, the
reference system's pass-through keys, the run's name and parameters) gets
random text from a hostile alphabet: braces, dollars, parentheses, quotes, line
breaks (U+0085 too) and expression words. Either the input is refused with a
reason, or the compiled Workflow holds no `{{` but the compiler's own fixed tags
(an explicit allow-list)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.diagnostics import Collector, Reason
from compiler.emit import emit_workflow
from compiler.inputs import namespace_of, pair_runs, parse_text
from compiler.podpolicy import OPEN_POLICY
from compiler.pods import PodSettings

# Every field carried, whatever an install's pod policy would say of it (a Secret,
# a Tool's ServiceAccount): what is judged here is the text, not the policy.
OPEN_PODS = PodSettings(policy=OPEN_POLICY)

# The compiler's own tags: fixed text, never built from a user's value, and where
# each may stand: the `{{` encoding anywhere a value is; the others only in the
# templates' fixed parts (their pod labels and resource manifests).
ENCODED_BRACES = "{{=sprig.b64dec('e3s=')}}"
FIXED_TAGS = frozenset({
    "{{inputs.parameters.step}}",
    "{{inputs.parameters.spec}}",
    "{{workflow.name}}",
    "{{workflow.uid}}",
    "{{=sprig.lower(inputs.parameters.step)}}",
})
FIXED_PLACES = (("metadata", "labels"), ("resource", "manifest"))
TAG = re.compile(r"\{\{.*?\}\}", re.S)

ALPHABET = st.sampled_from(["{", "}", "{{", "}}", "$", "$(", "(", ")", "'", '"', "\n", "\x85",
                            " ", "=", ".", "-", "_", "a", "Z", "0", ":", "/", "@",
                            "workflow.name", "=sprig.repeat(9,'x')", "inputs.parameters.x",
                            "item", "tasks.a.outputs", "steps.b", "workflow.uid"])
HOSTILE = st.lists(ALPHABET, max_size=8).map("".join)


def base() -> list[dict[str, Any]]:
    """One Orchestration using every kind and every field a user writes, and a run."""
    steps: list[dict[str, Any]] = [
        {"name": "agent", "kind": "AgentRun", "agentRef": {"name": "codex"},
         "implementationSpecRef": {"name": "impl"}, "runtime": {"type": "job"},
         "memoryRef": "mem", "secrets": ["token"], "with": {"prompt-file": "a", "b": "v"}},
        {"name": "tool", "kind": "ToolRun", "toolRef": {"name": "lint"}, "deliveryId": "d",
         "with": {"k": "v"}, "dependsOn": ["agent"]},
        {"name": "child", "kind": "SubOrchestration", "orchestrationRef": {"name": "kid"},
         "with": {"k": "v"}, "dependsOn": ["agent"]},
        {"name": "gate", "kind": "ApprovalGate", "policyRef": "policy", "dependsOn": ["tool"]},
        {"name": "signal", "kind": "SignalWait", "signalRef": {"name": "sig"},
         "deliveryId": "delivery", "dependsOn": ["gate"]},
        {"name": "mark", "kind": "Checkpoint", "memoryRef": "mem", "dependsOn": ["signal"]},
        {"name": "shell", "kind": "Container", "image": "alpine:3.20",
         "command": ["sh", "-c"], "args": ["echo hi"], "workingDir": "/w",
         "env": [{"name": "E", "value": "v"},
                 {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
         "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "P_"}],
         "volumeMounts": [{"name": "vol", "mountPath": "/m", "subPathExpr": "$(E)"}],
         "volumes": [{"name": "vol", "emptyDir": {}}],
         "securityContext": {"seLinuxOptions": {"level": "s0"}},
         "with": {"W": "v"}, "dependsOn": ["mark"]},
        {"name": "notify", "kind": "Template",
         "templateRef": {"name": "shared-steps", "template": "notify"},
         "with": {"text": "hi"}, "dependsOn": ["mark"]},
    ]
    orchestration = {"apiVersion": "orchestration.proompteng.ai/v1alpha1",
                     "kind": "Orchestration",
                     "metadata": {"name": "every-field", "namespace": "team-a"},
                     "spec": {"entrypoint": "main", "steps": steps}}
    run = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
           "metadata": {"name": "every-field-run", "namespace": "team-a"},
           "spec": {"orchestrationRef": {"name": "every-field"}, "deliveryId": "x",
                    "parameters": {"target": "prod", "E2": "v"}}}
    # The ToolRun step's Tool: its fields are rendered with the step's parameters.
    tool = {"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
            "metadata": {"name": "lint", "namespace": "team-a"},
            "spec": {"image": "alpine:3.20", "command": ["sh", "-c", "lint {{parameters.k}}"],
                     "args": ["{{parameters.target}}", "--x"], "workingDir": "/src",
                     "serviceAccount": "linter", "timeoutSeconds": 60,
                     "env": [{"name": "K", "value": "{{ parameters.k }}!"}]}}
    return [orchestration, run, tool]


Slot = tuple[tuple[Any, ...], bool]  # (path, is the slot a mapping key)
FIXED = {"apiVersion", "kind"}  # what a document is, not what a user writes into it


def slots(node: Any, path: tuple[Any, ...] = ()) -> Iterator[Slot]:
    """Every string (value or mapping key) a user writes, by path."""
    if isinstance(node, str):
        yield path, False
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from slots(item, (*path, i))
    elif isinstance(node, dict):
        for key, item in node.items():
            if len(path) in (1, 4) and key in FIXED:  # document and step kinds stay
                continue
            if not (len(path) == 1 or path[1:] in (("spec",), ("metadata",)) or
                    (len(path) == 4 and path[2] == "steps")):
                yield (*path, key), True
            yield from slots(item, (*path, key))


SLOTS = list(slots(base()))


def replaced(docs: list[Any], slot: Slot, text: str) -> None:
    path, is_key = slot
    parent: Any = docs
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if is_key:
        if text in parent:
            return
        parent[text] = parent.pop(last)
    else:
        parent[last] = text


def test_every_user_field_is_a_slot() -> None:
    found = {tuple(p for p in path if isinstance(p, str)) for path, _ in SLOTS}
    for expected in [("spec", "steps", "with"), ("spec", "steps", "image"),
                     ("spec", "steps", "env", "name"), ("spec", "parameters"),
                     ("spec", "steps", "templateRef", "template"), ("metadata", "namespace"),
                     ("spec", "steps", "dependsOn"), ("spec", "entrypoint"),
                     ("spec", "steps", "volumeMounts", "subPathExpr")]:
        assert any(f[: len(expected)] == expected for f in found), expected
    assert len(SLOTS) > 80


def compile_all(docs: list[Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    parsed = parse_text(yaml.safe_dump_all(docs, allow_unicode=True), "hostile.yaml")
    errors = [d for d in parsed.diagnostics if d.is_error]
    workflows = []
    if not errors:
        for _, orch, run in pair_runs(parsed):
            out = Collector()
            tools = parsed.tools_in(namespace_of(orch, run))
            workflows.append(emit_workflow(orch, run, out, pods=OPEN_PODS, tools=tools).workflow)
            errors += [d for d in out.items if d.is_error]
        errors += [d for d in parsed.diagnostics if d.is_error]
    return workflows, errors


def strings(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from strings(item, (*path, i))
    elif isinstance(node, dict):
        for key, item in node.items():
            yield path, str(key)
            yield from strings(item, (*path, key))


def is_fixed_place(path: tuple[Any, ...]) -> bool:
    """A template's pod labels or resource manifest: spec.templates[i].<place>."""
    return path[:2] == ("spec", "templates") and path[3:5] in FIXED_PLACES


def test_the_base_document_compiles() -> None:
    workflows, errors = compile_all(base())
    assert errors == [] and len(workflows) == 1


PROBE = "{{workflow.name}} $(x) {{=sprig.repeat(9,'x')}} '\"\n\x85}}"


def _carries(index: int) -> bool:
    docs = copy.deepcopy(base())
    replaced(docs, SLOTS[index], PROBE)
    return not compile_all(docs)[1]


# Slots that carry such text (values) rather than refuse it (names): drawn from
# more often, so that many examples compile and their output is what is judged.
CARRIERS = [i for i in range(len(SLOTS)) if _carries(i)]


def test_values_carry_hostile_text() -> None:
    carried = {next(p for p in reversed(SLOTS[i][0]) if isinstance(p, str)) for i in CARRIERS}
    assert {"value", "command", "args"} <= carried
    assert "text" not in carried  # a Template step's value is refused
    assert "target" not in carried  # so is a run parameter, which reaches it
    assert len(CARRIERS) >= 15


CHANGE = st.tuples(st.sampled_from(CARRIERS) | st.sampled_from(range(len(SLOTS))), HOSTILE)


@settings(max_examples=2000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(CHANGE, min_size=1, max_size=6))
def test_no_user_text_reaches_argos_expression_engine(
        changes: list[tuple[int, str]]) -> None:
    docs = copy.deepcopy(base())
    for index, text in changes:
        try:
            replaced(docs, SLOTS[index], text)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change renamed this slot's parent key
    workflows, errors = compile_all(docs)
    if errors:
        assert all(isinstance(d.reason, Reason) and d.message for d in errors)
        return
    for workflow in workflows:
        for path, text in strings(workflow):
            tags = TAG.findall(text)
            allowed = {ENCODED_BRACES} | (FIXED_TAGS if is_fixed_place(path) else set())
            assert set(tags) <= allowed and "{{" not in TAG.sub("", text), (path, text)
