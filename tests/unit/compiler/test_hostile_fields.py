"""Nothing a user writes reaches Argo's expression engine (issue 9 §1).

Every user-writable field of a document that uses every kind and every field
(names, keys, references, values, images, the fields a Container carries, the
reference system's pass-through keys, the run's name and parameters) gets
random text from a hostile alphabet: braces, dollars, parentheses, quotes, line
breaks (U+0085 too) and expression words. Either the input is refused with a
reason, or the compiled Workflow holds no `{{` but the compiler's own fixed tags
(an explicit allow-list). Neither side may pass by default: enough examples
compile, carrying braces, for the Workflows to be judged (a bound measured below),
and every refusal is one the contract names for the slot written and the text
written into it (a table of the slots' rules, from contract §2 and §3)."""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.diagnostics import Collector, Diagnostic, FieldPath
from compiler.emit import EmitSettings, emit_workflow
from compiler.inputs import namespace_of, pair_runs, parse_text
from compiler.kinds.container import BRACE_VAR
from compiler.podpolicy import OPEN_POLICY
from compiler.pods import PodSettings
from orchapi.vocabulary import Reason

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
                 {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                 {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}],
         "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "P_"},
                     {"secretRef": {"name": "s"}}],
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
            settings = EmitSettings(pods=OPEN_PODS, tools=tools)
            workflows.append(emit_workflow(orch, run, out, settings).workflow)
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


# Half the texts hold a whole `{{...}}` tag, what the property is about (of the
# texts HOSTILE draws alone, few compiled examples carried one: 22 of 300).
TAGGED = HOSTILE | st.builds(lambda a, b: f"{a}{{{{{b}}}}}", HOSTILE, HOSTILE)
CHANGE = st.tuples(st.sampled_from(CARRIERS) | st.sampled_from(range(len(SLOTS))), TAGGED)


def changed(changes: list[tuple[int, str]]) -> list[Any]:
    docs = copy.deepcopy(base())
    for index, text in changes:
        try:
            replaced(docs, SLOTS[index], text)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change renamed this slot's parent key
    return docs


@settings(max_examples=2000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(CHANGE, min_size=1, max_size=6))
def test_no_user_text_reaches_argos_expression_engine(
        changes: list[tuple[int, str]]) -> None:
    workflows, errors = compile_all(changed(changes))
    if errors:  # judged one change at a time: test_every_refusal_is_one_the_contract_names
        assert all(isinstance(d.reason, Reason) and d.message for d in errors)
        return
    for workflow in workflows:
        for path, text in strings(workflow):
            tags = TAG.findall(text)
            allowed = {ENCODED_BRACES} | (FIXED_TAGS if is_fixed_place(path) else set())
            assert set(tags) <= allowed and "{{" not in TAG.sub("", text), (path, text)


# --- the property above judges only what compiles: how much does ----------------------------

# How a user's `{{` travels in a Workflow: as an expression that writes it, as JSON
# escapes inside a resource manifest, or through a container variable (§3).
ENCODINGS = (ENCODED_BRACES, "\\u007b\\u007b", f"{{$({BRACE_VAR})")


def encodes_braces(workflow: dict[str, Any]) -> bool:
    return any(e in text for _, text in strings(workflow) for e in ENCODINGS)


def test_most_examples_compile_and_carry_braces() -> None:
    """The property above passes vacuously for a compiler that refuses everything,
    so the share of its examples that compile, and of those whose Workflow carries
    a user's `{{` (encoded), is bounded from below. Measured on this sample,
    derandomized (hypothesis 6.170.27): of 300 examples, 143 compile and 90 carry
    braces; over 12 seeds of the same strategy, at least 96 and 36 (means 121 and
    64). The bounds, a quarter and a tenth, sit under every seed measured; a
    compiler that refused every step whose text holds `{{`, instead of encoding
    it, carries braces in 7."""
    outcomes: Counter[str] = Counter()

    @settings(max_examples=300, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(CHANGE, min_size=1, max_size=6))
    def sample(changes: list[tuple[int, str]]) -> None:
        workflows, errors = compile_all(changed(changes))
        outcomes["examples"] += 1
        if not errors:
            outcomes["compiled"] += 1
            outcomes["carried braces"] += any(encodes_braces(w) for w in workflows)

    sample()
    assert outcomes["compiled"] >= outcomes["examples"] // 4, outcomes
    assert outcomes["carried braces"] >= outcomes["examples"] // 10, outcomes


# --- every refusal is one the contract names, for the slot and text that caused it --------

# A lowercase letter, then lowercase letters and digits, and no expression keyword:
# a valid name in every grammar the contract names (§2: DAG task names, object
# names and namespaces, environment variable, Argo parameter and template names,
# image references). Its characters cannot be why a name is refused.
CLEAN = re.compile(r"[a-z][a-z0-9]{0,30}")
BLANK = re.compile("[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*")
KEYWORDS = frozenset({  # §2, InvalidStepName
    "in", "not", "and", "or", "matches", "contains", "startsWith", "endsWith", "let", "if",
    "else", "true", "false", "nil"})
# What in the text causes a refusal, by rule: a character or shape a name's grammar
# excludes; `{{` where no encoding survives (§2: names, values that reach a Template
# step; §3: a field Kubernetes does not expand $(VAR) in); a `{{...}}` tag in a
# Tool's text that is not one orch renders (§2, ToolRun); an empty required value;
# or any change at all of a name something else refers to.
CAUSES: dict[str, Callable[[str], bool]] = {
    "grammar": lambda t: not (CLEAN.fullmatch(t) and t not in KEYWORDS),
    "braces": lambda t: "{{" in t,
    "tag": lambda t: re.search(r"\{\{[^}]+\}\}", t) is not None,
    "empty": lambda t: t == "",
    # A name the reference reads with asString (trimmed by JavaScript's trim: its
    # WhiteSpace and LineTerminator, never U+0085) is missing when blank.
    "blank": lambda t: BLANK.fullmatch(t) is not None,
    "braces or empty": lambda t: "{{" in t or t == "",
    "any": lambda t: True,
}
Ref = tuple[str, int, tuple[Any, ...]]  # (reason, document, path) of a referring field
RUN_REF: Ref = ("OrchestrationNotFound", 1, ("spec", "orchestrationRef", "name"))
# The ToolRun step: its Tool's text is judged there, and the Tool's {{parameters.k}}
# and {{parameters.target}} come from its `with` and the run's parameters.
TOOL_STEP = ("spec", "steps", 1, "toolRef")
TOOL_PARAMS: Ref = ("MissingStepField", 0, ("spec", "steps", 1, "with"))
TOOL_GONE: Ref = ("ToolNotFound", 0, (*TOOL_STEP, "name"))
MOUNT: Ref = ("InvalidField", 0, ("spec", "steps", 6, "volumeMounts", 0, "name"))
NAME = {"InvalidField": "grammar", "MissingStepField": "blank"}
NO_REFUSAL: dict[str, str] = {}


@dataclass(frozen=True)
class Rule:
    """What the contract refuses for a slot: reasons at the slot itself, each with
    its cause in the text, and the fields elsewhere that stop resolving when the
    slot's name changes."""

    own: dict[str, str]
    refs: tuple[Ref, ...] = ()


def rule(slot: Slot) -> Rule:
    (doc, *path), is_key = slot
    # the slot's path with list indices and user-named keys as `*`
    where = ".".join("*" if isinstance(p, int) or (i and path[i - 1] in ("with", "parameters"))
                     else p for i, p in enumerate(path))
    step = path[2] if where.startswith("spec.steps.*") else None
    if doc == 0 and where == "metadata.name":
        return Rule({"InvalidField": "grammar"}, (RUN_REF, TOOL_PARAMS))
    if doc == 0 and where == "metadata.namespace":
        return Rule({"InvalidField": "grammar"}, (RUN_REF, TOOL_PARAMS, TOOL_GONE))
    if where == "spec.entrypoint":
        return Rule({"EntrypointMissing": "grammar"})
    if where == "spec.steps.*.name":
        old = base()[0]["spec"]["steps"][step]["name"]
        steps = base()[0]["spec"]["steps"]
        refs: list[Ref] = [("MissingDependency", 0, ("spec", "steps", j, "dependsOn", k))
                for j, s in enumerate(steps) for k, d in enumerate(s.get("dependsOn", ()))
                if d == old]
        refs += [("DuplicateStep", 0, ("spec", "steps", j, "name")) for j in range(len(steps))]
        return Rule({"InvalidStepName": "grammar", "StepMissingName": "empty"}, tuple(refs))
    if where == "spec.steps.*.dependsOn.*":
        return Rule(dict.fromkeys(("MissingDependency", "InvalidDependency",
                                   "DependencyCycle"), "any"))
    if where in ("spec.steps.*.with.*", "spec.parameters.*") and is_key:
        return Rule({"InvalidField": "grammar"}, (TOOL_PARAMS,))
    if where == "spec.steps.*.with.*":  # a value: carried, but not into a Template
        kind = base()[0]["spec"]["steps"][step]["kind"]
        return Rule({"InvalidField": "braces"} if kind == "Template" else NO_REFUSAL)
    if where == "spec.parameters.*":  # reaches the Template step
        return Rule({"InvalidField": "braces"})
    if is_key:  # a key the kind reads, renamed: what it names is missing
        return Rule({"InvalidField": "any", "MissingStepField": "any"},
                    (MOUNT,) if where.startswith("spec.steps.*.volumes") else ())
    if where.endswith(("deliveryId", ".command.*", ".args.*", ".env.*.value")):
        if doc == 2:
            return Rule({"InvalidField": "tag"})
        return Rule({"InvalidField": "empty"} if where.endswith("deliveryId") else NO_REFUSAL)
    if where.endswith("mountPath"):  # Kubernetes requires one
        return Rule({"InvalidField": "braces or empty"})
    if where.endswith(("workingDir", "subPathExpr", "seLinuxOptions.level")):  # carried text
        return Rule({"InvalidField": "braces"})
    if where == "spec.steps.*.volumeMounts.*.name":  # names one of the step's volumes
        return Rule({"InvalidField": "any"})
    if where == "spec.steps.*.volumes.*.name":
        return Rule(NAME, (MOUNT,))
    if where == "spec.steps.*.runtime.type" or (where == "spec.steps.*.memoryRef" and
                                                base()[0]["spec"]["steps"][step]["kind"]
                                                == "Checkpoint"):
        return Rule(NO_REFUSAL)  # an enum the AgentRun CRD judges (a warning); read by nothing
    if doc == 1 and where == "metadata.namespace":
        return Rule(NAME, (RUN_REF, TOOL_PARAMS))
    if doc == 1 and where == "spec.orchestrationRef.name":
        return Rule({"OrchestrationNotFound": "any", **NAME}, (TOOL_PARAMS,))
    if (doc == 2 and where.startswith("metadata.")) or where == "spec.steps.*.toolRef.name":
        return Rule(NAME, (TOOL_GONE,))
    return Rule(NAME)  # a name: an object's, a reference's, an image, a variable's


def as_read(text: str) -> str:
    """`text` as the compiler reads it from the YAML `compile_all` writes (a raw
    U+0085 inside a quoted scalar is a YAML 1.1 line break, read back folded)."""
    read: str = next(iter(yaml.safe_load(yaml.safe_dump({text: 0}, allow_unicode=True))))
    return read


def explained(slot: Slot, text: str, error: Diagnostic) -> bool:
    """`error` is one the contract names for `text` in `slot`: at the slot (or the
    object holding it; a renamed key at its new or old name), for a reason whose
    cause the text holds; or at a field that referred to the slot's old name."""
    (doc, *path), is_key = slot
    reason, at = str(error.reason), error.path.parts
    text = as_read(text)
    this = rule(slot)
    if any((reason, at) == (r, p) for r, _, p in this.refs):
        return True
    cause = this.own.get(reason)
    if cause is None or not CAUSES[cause](text):
        return False
    if doc == 2 and path[0] == "spec" and not is_key:  # a Tool's field, judged at its step
        return at == TOOL_STEP and error.message.startswith('Tool "lint" ') and \
            f"{FieldPath(tuple(path))}" in error.message
    if error.span is not None and error.document != doc:
        return False
    places = {tuple(path), tuple(path[:-1])} | ({(*path[:-1], text)} if is_key else set())
    return at in places


def unexplained(index: int, text: str) -> list[tuple[str, str, str]]:
    """The refusals of `text` written into slot `index` that the contract does not name."""
    docs = copy.deepcopy(base())
    replaced(docs, SLOTS[index], text)
    return [(str(e.reason), str(e.path), e.message)
            for e in compile_all(docs)[1] if not explained(SLOTS[index], text, e)]


# Every slot, with a clean name, an empty and a blank text, a digit first, an Argo tag, and the
# other hostile characters: every rule above is met at least once.
SWEEP = ["a0", "", " \n", "0", "{{workflow.name}}", "$(x) '\"\n\x85"]


@pytest.mark.parametrize("index", range(len(SLOTS)),
                         ids=[".".join(map(str, SLOTS[i][0])) + ("=key" if SLOTS[i][1] else "")
                              for i in range(len(SLOTS))])
def test_every_refusal_is_one_the_contract_names_in_each_slot(index: int) -> None:
    for text in SWEEP:
        assert not unexplained(index, text), text


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SLOTS))), HOSTILE)
def test_every_refusal_is_one_the_contract_names(index: int, text: str) -> None:
    assert not unexplained(index, text), SLOTS[index]


# --- and every name is judged: the converse ------------------------------------------------

# Name slots where an empty text means "not given": the reference reads a blank
# reference as absent (`asString`; the step then says what is missing, or needs
# nothing) and drops a blank secret (`parseStringArray`), Kubernetes an empty
# envFrom prefix as none (ValidateEnvFrom judges a prefix only when
# `len(prefix) > 0`), and a Tool's serviceAccount is optional.
EMPTY_IS_ABSENT = frozenset({
    "spec.steps.0.implementationSpecRef.name", "spec.steps.0.memoryRef", "spec.steps.0.secrets.0",
    "spec.steps.4.signalRef.name", "spec.steps.6.envFrom.0.prefix", "spec.serviceAccount"})
# The causes that make a slot a name (or a path Kubernetes requires): its text is
# judged whole, not carried.
JUDGED = frozenset({"grammar", "any", "braces or empty"})
NAME_SLOTS = [i for i, slot in enumerate(SLOTS)
              if not slot[1] and rule(slot).own.get("InvalidField") in JUDGED]


def refusals_at(index: int, text: str) -> list[Diagnostic]:
    docs = copy.deepcopy(base())
    replaced(docs, SLOTS[index], text)
    return [e for e in compile_all(docs)[1] if explained(SLOTS[index], text, e)]


@pytest.mark.parametrize("index", NAME_SLOTS,
                         ids=[".".join(map(str, SLOTS[i][0])) + ("=key" if SLOTS[i][1] else "")
                              for i in NAME_SLOTS])
def test_every_name_slot_refuses_a_name_its_grammar_excludes(index: int) -> None:
    """The sweep above proves no refusal is unfounded; this, that none is missing:
    every slot whose text is a name (the contract's §2 `InvalidField`: an object's,
    a reference's, a Secret's or ConfigMap's, a key's, an env var's or its prefix,
    a volume's) refuses a text its grammar excludes, and an empty one unless empty
    means "not given" there. A name the compiler carries unjudged fails only at
    run time, when the apiserver refuses the pod or the object (issues 18, 22)."""
    cause = CAUSES[rule(SLOTS[index]).own["InvalidField"]]
    path = ".".join(map(str, SLOTS[index][0][1:]))
    texts = [t for t in ("Bad Name", "") if cause(t) and not (t == "" and path in EMPTY_IS_ABSENT)]
    assert texts
    for text in texts:
        assert refusals_at(index, text), f"{text!r} accepted"
