"""`AgentRun` steps create an `agents.proompteng.ai` AgentRun and wait on it.

The AgentRun is the one the reference controller's `submitAgentRunStep` builds
from the same step, key for key (`compiler.step_fields.agent_run_spec`): fields
read from the step, else from `with` (where the reference's own Orchestrations
carry them as JSON text), `parameters` the run's parameters overlaid by `with`.

A step that gives neither `implementationSpecRef` nor `implementation` compiles
(the reference system's own primitives Orchestration is such a step, and every
Orchestration it ships must compile, contract §1) with a warning: the AgentRun CRD
refuses that object, so the step fails when it runs, with the apiserver's message,
as the reference controller's step fails at submission. So do the other objects
the CRD would refuse (`crd_problems`): orch warns and builds what the reference
builds, rather than build something else.
"""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Collector, FieldPath, Severity
from compiler.kinds.base import (
    EXPANDED_HINT,
    Emitted,
    Kind,
    StepContext,
    check_name,
    no_expansion_json,
)
from compiler.kinds.resource import create_template, resource_step
from compiler.step_fields import WITH, Reader, agent_run_spec, js_trim, keys_read
from orchapi.api import AGENT_RUN, AGENT_RUN_KIND, AGENTS_API_VERSION, INT32_MAX
from orchapi.models import Step
from orchapi.names import DNS_SUBDOMAIN_NAME, SECRET_NAME, quote
from orchapi.vocabulary import Reason

TEMPLATE = create_template(
    AGENTS_API_VERSION,
    AGENT_RUN_KIND,
    "status.phase == Succeeded",
    "status.phase in (Failed,Cancelled)",
)

TEMPLATE_NAME = "agent-run"
_REFS = ("agentRef", "implementationSpecRef", "memoryRef", "vcsRef")
# The AgentRun CRD's enums and bounds (charts/agents/crds/agents.proompteng.ai_agentruns.yaml).
RUNTIME_TYPES = ("workflow", "job", "temporal", "custom")
VCS_MODES = ("read-write", "read-only", "none")
MAX_AGENT_PARAMETERS = 100  # the AgentRun CRD's bound on spec.parameters
_CRD_REFUSES = "the AgentRun CRD refuses it, so the step fails when it runs"


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    reader = Reader(step, path, out)
    spec = agent_run_spec(reader, {})
    if "agentRef" not in spec:
        out.add(Reason.MISSING_STEP_FIELD, path.child("agentRef"),
                "an AgentRun step needs agentRef (the Agent to run, {name: ...}), "
                "on the step or in with", names=("agentRef",))
    for key in _REFS:
        if key in spec:
            check_name(spec[key]["name"], DNS_SUBDOMAIN_NAME, path.child(*reader.where[key]), out)
    _check_secrets(step, spec, reader, path, out)
    with_ = step.get(WITH)
    with_keys = with_ if isinstance(with_, dict) else {}
    keys = ("implementationSpecRef", "implementation")
    mine = [d for d in out.items if d.path.parts[:len(path.parts)] == path.parts]
    malformed = any(d.is_error and any(k in d.path.parts for k in keys) for d in mine)
    if not any(k in spec for k in keys) and not malformed:
        out.add(Reason.MISSING_STEP_FIELD, path.child("implementationSpecRef"),
                "an AgentRun step should give implementationSpecRef or implementation "
                f"(on the step or in with); without one {_CRD_REFUSES}, as the reference "
                "controller's step fails at submission",
                severity=Severity.WARNING, names=("implementationSpecRef",))
    for where, message in crd_problems(spec, reader):
        out.add(Reason.INVALID_FIELD, path.child(*where), message, severity=Severity.WARNING,
                names=(str(where[-1]),))
    kind = spec["runtime"]["type"]
    if "workflow" in reader.where and kind != "workflow":
        out.add(Reason.IGNORED_FIELD, path.child(*reader.where["workflow"]),
                f"workflow is read only when runtime.type is workflow (here {quote(kind)}); "
                "the AgentRun gets none, as the reference builds it",
                severity=Severity.WARNING, names=("workflow",))
    if "prompt" in with_keys:
        out.add(
            Reason.INVALID_FIELD,
            path.child(WITH, "prompt"),
            "AgentRun parameters may not hold 'prompt' (the AgentRun CRD refuses it)",
            hint="put the text in the ImplementationSpec",
        )


def _check_secrets(step: dict[str, Any], spec: dict[str, Any], reader: Reader, path: FieldPath,
                   out: Collector) -> None:
    """Each of `secrets` names a Secret (the agents controller hands them to the
    AgentRun's workload as Secrets: Kubernetes object names). A list is judged item
    by item, at its index (a blank item is dropped, as the reference drops it: it
    names no Secret); text (a JSON array, or names separated by commas or spaces)
    at the field, naming the item."""
    where = reader.where.get("secrets")
    if where is None:
        return
    with_ = step.get(WITH)
    raw = step.get("secrets") if where == ("secrets",) else \
        (with_ if isinstance(with_, dict) else {}).get("secrets")
    if isinstance(raw, list):
        for i, item in enumerate(raw):
            if isinstance(item, str) and js_trim(item):
                check_name(item, SECRET_NAME, path.child(*where, i), out)
        return
    for name in spec.get("secrets", ()):
        problem = SECRET_NAME.problem(name)
        if problem is not None:
            out.add(Reason.INVALID_FIELD, path.child(*where),
                    f"secrets names {quote(name)}, which {problem}", names=(name,),
                    hint=EXPANDED_HINT if "{{" in name else None)


def crd_problems(spec: dict[str, Any], reader: Reader) -> list[tuple[tuple[Any, ...], str]]:
    """What the AgentRun CRD would refuse in `spec` (the rules a step's fields can
    break), each with where the field was read."""
    found: list[tuple[tuple[Any, ...], str]] = []
    inline = (spec.get("implementation") or {}).get("inline")
    if "implementation" in spec and not (isinstance(inline, dict)
                                         and isinstance(inline.get("text"), str)):
        found.append((reader.where["implementation"],
                      "implementation must be {inline: {text: ...}}: " + _CRD_REFUSES))
    kind = spec["runtime"]["type"]
    if kind not in RUNTIME_TYPES:
        found.append((reader.where.get("runtime", ("runtime",)),
                      f"runtime.type {quote(kind)} is not one of {', '.join(RUNTIME_TYPES)}: "
                      + _CRD_REFUSES))
    mode = (spec.get("vcsPolicy") or {}).get("mode")
    if mode is not None and mode not in VCS_MODES:
        found.append((reader.where["vcsPolicy"],
                      f"vcsPolicy.mode {quote(str(mode))} is not one of {', '.join(VCS_MODES)}: "
                      + _CRD_REFUSES))
    ttl = spec.get("ttlSecondsAfterFinished")
    if ttl is not None and not (isinstance(ttl, int) and 0 <= ttl <= INT32_MAX):
        found.append((reader.where["ttlSecondsAfterFinished"],
                      f"ttlSecondsAfterFinished {ttl} is not a whole number from 0 to {INT32_MAX}: "
                      + _CRD_REFUSES))
    return found


def build(step: Step, ctx: StepContext) -> Emitted:
    spec = agent_run_spec(Reader(step.model_dump(by_alias=True, exclude_none=True)),
                          ctx.parameters)
    # What the run's parameters bring (the step's own `with` is judged by `check`).
    if len(ctx.parameters) > MAX_AGENT_PARAMETERS:
        ctx.out.add(Reason.INVALID_FIELD, ctx.path.child(WITH),
                    f"the AgentRun gets {len(ctx.parameters)} parameters (the run's and the "
                    f"step's with): the AgentRun CRD takes at most {MAX_AGENT_PARAMETERS}, so "
                    + _CRD_REFUSES, severity=Severity.WARNING, names=(step.name,))
    if "prompt" in ctx.parameters and "prompt" not in (step.with_ or {}):
        ctx.out.add(Reason.INVALID_FIELD, ctx.path.child(WITH),
                    "the run's parameter 'prompt' reaches this AgentRun's parameters: "
                    + _CRD_REFUSES, severity=Severity.WARNING, names=("prompt",),
                    hint="put the text in the ImplementationSpec")
    return resource_step(TEMPLATE_NAME, TEMPLATE, ctx.step_label, spec=no_expansion_json(spec))


KIND = Kind(AGENT_RUN, build, check, template=TEMPLATE_NAME, extra_keys=keys_read(AGENT_RUN))
