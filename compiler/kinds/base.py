"""What every step kind provides: its checks and its Argo template."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from compiler.diagnostics import Collector, FieldPath
from compiler.pods import DEFAULT_PODS, PodSettings
from compiler.step_fields import Reader
from compiler.tools import Tool
from orchapi.models import Step
from orchapi.names import DNS_SUBDOMAIN_NAME, PARAMETER, Grammar, quote
from orchapi.vocabulary import Reason

Template = dict[str, Any]
STEP_PARAM = "step"


@dataclass(frozen=True)
class Emitted:
    """A step's share of the Workflow: the template it runs (None for a
    `templateRef` task) under a base name, and the task fields it adds."""

    base_name: str
    template: Template | None
    task: dict[str, Any] = field(default_factory=dict)
    # Whether Argo can apply retries/timeouts through this template.
    honours_retries: bool = True
    why_no_retries: str = "runs no pod"  # the warning's reason, when it does not
    honours_timeout: bool = True
    # The step's timeout when it sets none itself (a ToolRun's Tool gives one).
    default_timeout: int | None = None
    # The kind carries the step's timeout to the controller, which enforces it.
    timeout_by_controller: bool = False


@dataclass(frozen=True)
class StepContext:
    """What a kind needs beyond the step: the step's label value and the run's
    parameters merged under the step's own `with` (the step wins)."""

    step_label: str
    parameters: Mapping[str, str]
    pods: PodSettings = DEFAULT_PODS
    # The Tools a ToolRun step may name (by name, in the run's namespace), and
    # where they were looked for, for `ToolNotFound` ("in the input"). None: not
    # known here (an Orchestration judged on its own, before any run): a ToolRun
    # step is then compiled to a stand-in container and its Tool not judged.
    tools: Mapping[str, Tool] | None = None
    tools_where: str = "in the input"
    # The run's depth in a chain of SubOrchestration runs (0: not a child run).
    depth: int = 0
    # A SubOrchestration step's share of the run's descendant budget, written on the
    # child it creates (controller.admission); None: not known here (orch compile).
    descendants: int | None = None
    # Where problems only the build sees go (a missing Tool or parameter).
    out: Collector = field(default_factory=Collector)
    path: FieldPath = field(default_factory=FieldPath)
    # What a missing Tool's `ToolNotFound` tells to do, in the words of where it
    # was looked for (the CLI's input, the cluster's namespace); None: the CLI's.
    tools_hint: str | None = None


Builder = Callable[[Step, StepContext], Emitted]
Checker = Callable[[dict[str, Any], FieldPath, Collector], None]


@dataclass(frozen=True)
class Kind:
    name: str
    build: Builder
    check: Checker
    # What the step's parameters (its `with` keys, the run's parameter names)
    # become: Argo parameters, or environment variables of a container.
    parameter_name: Grammar = PARAMETER
    # Step keys beyond the models' that this kind reads (the reference system's
    # own, such as implementationSpecRef): known, never reported as unknown.
    extra_keys: tuple[str, ...] = ()
    # How the names of the templates its steps run begin ("": it emits none, a
    # templateRef); `emit._intern` may add a settings suffix and a digest.
    template: str = ""


def require(step: dict[str, Any], key: str, path: FieldPath, out: Collector, what: str) -> None:
    """`MissingStepField` when `key` is absent or empty."""
    if step.get(key) in (None, "", {}, []):
        out.add(
            Reason.MISSING_STEP_FIELD,
            path.child(key),
            f"{article(str(step.get('kind')))} step needs {key} ({what})",
            names=(key,),
        )


def check_name(value: Any, grammar: Grammar, path: FieldPath, out: Collector) -> bool:
    """`InvalidField` with the grammar when a string breaks it (other types are
    the models' to report); True when the value is usable."""
    if not isinstance(value, str):
        return False
    problem = grammar.problem(value)
    if problem is None:
        return True
    out.add(Reason.INVALID_FIELD, path, f"{quote(value)} {problem}", names=(value,),
            hint=EXPANDED_HINT if "{{" in value else None)
    return False


# Why `{{` in a name is refused rather than encoded: a name field takes no expression.
EXPANDED_HINT = "Argo would evaluate {{...}} in it as an expression"


def check_with_keys(step: dict[str, Any], path: FieldPath, out: Collector,
                    grammar: Grammar = PARAMETER) -> None:
    """Each `with` key is a parameter name (Argo's rule, or `grammar`)."""
    with_ = step.get("with")
    if isinstance(with_, dict):
        for key in with_:
            check_name(key, grammar, path.child("with", str(key)), out)


def check_reference(reader: Reader, kind: str, key: str, what: str, path: FieldPath,
                    out: Collector) -> None:
    """The object a step of `kind` must name by `key` (on the step or in `with`):
    `MissingStepField` without one, `InvalidField` for a name no object can have."""
    name = reader.ref(key, typed=True)
    if name is None:
        out.add(Reason.MISSING_STEP_FIELD, path.child(key),
                f"{article(kind)} step needs {key} ({what}, {{name: ...}}), on the step "
                "or in with", names=(key,))
    else:
        check_name(name, DNS_SUBDOMAIN_NAME, path.child(*reader.where[key]), out)


def article(word: str) -> str:
    """`word` with its indefinite article ("an AgentRun", "a ToolRun")."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


# Characters the executor's YAML reader would not give back as they are, when it
# reads the manifest (the JSON spec is a YAML flow mapping there): DEL, the C1
# controls, U+FFFE/U+FFFF and lone surrogates are not YAML-printable (`argo lint`
# and kubectl refuse the manifest); U+0085, U+2028 and U+2029 are YAML 1.1 line
# breaks, folded into spaces inside a quoted scalar; U+FEFF is a byte order mark.
# JSON's own escapes cover the C0 controls. A `\uXXXX` escape reaches the YAML
# reader as ASCII and is decoded by it into the character.
_UNSAFE_IN_YAML = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")


def no_expansion_json(value: Any) -> str:
    """JSON text in which Argo finds no `{{` and every character the YAML reader
    would change is escaped: the braces of `{{` inside strings are written as JSON
    escapes, as are the characters of `_UNSAFE_IN_YAML`; the executor's YAML/JSON
    parser decodes them back, so the created resource holds the user's value
    byte for byte. (Structural braces never stand doubled in JSON, so a plain
    replace only touches string content.)"""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = _UNSAFE_IN_YAML.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text.replace("{{", "\\u007b\\u007b")


_OPEN = "{{=sprig.b64dec('" + base64.b64encode(b"{{").decode() + "')}}"


def argo_literal(value: str) -> str:
    """`value` as Argo will not expand it: Argo has no escape for `{{`, so each one
    is produced by an expression (evaluated once, its output never re-read)."""
    return value.replace("{{", _OPEN)


def parameter(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}
