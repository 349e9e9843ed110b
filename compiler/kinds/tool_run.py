"""`ToolRun` steps run their Tool's container: Argo runs the tool itself (contract
§4). In the reference system its orchestration controller ran ToolRuns as Jobs;
once this controller replaces that one nothing else would, so a ToolRun step
compiles to a `container` template built from the referenced `Tool`
(`compiler.tools`): its image, command, args, env and workingDir, with
`{{parameters.NAME}}` rendered from the step's parameters (the run's
`spec.parameters` under the step's `with`), as the reference does.

- The Tool's own command, args and env text keeps Kubernetes' meaning, as in the
  reference's Job (its `$(GREETING)` is its env var's value); the values its
  placeholders render are user values, protected (`container.written`): neither
  Argo nor the kubelet expands what they hold (contract §4).
- The Tool's `serviceAccount` runs the pod as that ServiceAccount, with its token
  (`automountServiceAccountToken: true` on the template); without one the pod
  follows the install (no token by default, `compiler.pods`). The Tool's image
  and ServiceAccount, and the step's own `securityContext` (a Tool has none),
  are judged by the install's pod policy (`compiler.podpolicy`): a tenant who
  may write Tools chooses no more than the policy lends.
- The Tool's `timeoutSeconds` is the step's timeout unless the step sets its own.
- Not carried: the reference's `TOOL_RUN_SPEC` env var and the `run.json` it
  names (a ConfigMap of the ToolRun object, which does not exist here, the Tool
  and the parameters, mounted at /workspace/run.json), and
  `ttlSecondsAfterFinished` (a Job's TTL).
"""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Collector, FieldPath
from compiler.kinds.base import (
    STEP_PARAM,
    Emitted,
    Kind,
    StepContext,
    check_reference,
    parameter,
)
from compiler.kinds.container import BRACE_VAR, ENV_NAME, check_carried, needs_brace, written
from compiler.podpolicy import Asked, PodAsks, judge_pod
from compiler.pods import container_security_context, executor_patch
from compiler.schema_check import definition, normalized
from compiler.step_fields import Reader, keys_read, reader_of
from compiler.tools import Tool, render_tool
from orchapi.api import STEP_LABEL, TOOL_RUN, TOOLS_API_VERSION
from orchapi.models import Step
from orchapi.names import DNS_SUBDOMAIN_NAME, IMAGE, Grammar, quote, suggest
from orchapi.vocabulary import Reason

TEMPLATE_NAME = "tool-"  # + the Tool's name

# A `with` key only names a `{{parameters.NAME}}` of the Tool: it lands in no
# Argo or Kubernetes field, so any key without braces or dots will do.
WITH_KEY = Grammar("ToolRun parameter name", r"[^{}.]+", 253, "orch",
                   "any text without '{', '}' or '.'")
SECURITY_CONTEXT = "securityContext"  # the step's, for the Tool's container
ADD_TOOL = f"add the Tool ({TOOLS_API_VERSION}) to the input"


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    check_reference(Reader(step, path, out), TOOL_RUN, "toolRef", "the Tool to run", path, out)
    if SECURITY_CONTEXT in step:
        check_carried(step, SECURITY_CONTEXT, path, out)


def _security_context(step: Step) -> dict[str, Any] | None:
    own = step.extras.get(SECURITY_CONTEXT)
    if own is None:
        return None
    found: dict[str, Any] = normalized(own, definition("V1Container")["properties"][
        SECURITY_CONTEXT])
    return found


def _asks(ctx: StepContext, tool: str, image: str | None, account: str | None,
          own: dict[str, Any] | None) -> PodAsks:
    """What the step asks of its pod: the Tool's image and ServiceAccount (named at
    the step's toolRef) and its own securityContext."""
    where = ctx.path.child("toolRef")
    return PodAsks(
        ctx.path, own,
        images=[Asked(image, where, f"Tool {quote(tool)} spec.image {quote(image)}")]
        if image else [],
        service_account=Asked(account, where, f"Tool {quote(tool)} spec.serviceAccount "
                              f"{quote(account)}") if account else None)


def build(step: Step, ctx: StepContext) -> Emitted:
    reader = reader_of(step)
    name = reader.ref("toolRef", typed=True)
    assert name is not None
    own = _security_context(step)
    if ctx.tools is None:  # its Tool is judged when a run is submitted
        ctx.out.items.extend(judge_pod(PodAsks(ctx.path, own), ctx.pods.policy))
        return Emitted(f"{TEMPLATE_NAME}{name}", {"container": {"image": f"tool:{name}"}})
    tool = ctx.tools.get(name)
    if tool is None:
        near = suggest(name, ctx.tools)
        ctx.out.add(Reason.TOOL_NOT_FOUND, ctx.path.child(*reader.where["toolRef"]),
                    f"Tool {quote(name)} is not {ctx.tools_where}", names=(name,),
                    hint=f'did you mean "{near}"?' if near else ctx.tools_hint or ADD_TOOL)
        return Emitted(f"{TEMPLATE_NAME}run", None)
    container = _container(step, tool, ctx)
    template: dict[str, Any] = {
        "inputs": {"parameters": [{"name": STEP_PARAM}]},
        "metadata": {"labels": {STEP_LABEL: "{{inputs.parameters.step}}"}},
    }
    account = tool.spec.service_account
    wrong = DNS_SUBDOMAIN_NAME.problem(account) if account else None
    if wrong:
        _refuse(ctx, name, "spec.serviceAccount", f"{quote(account or '')} {wrong}")
        account = None
    if account:
        template["serviceAccountName"] = account
        template["automountServiceAccountToken"] = True
    template["container"] = container
    security = container_security_context(ctx.pods, own)  # the step's own wins
    if security is not None:
        container["securityContext"] = security
    if ctx.pods.restricted:
        template["podSpecPatch"] = executor_patch()
    ctx.out.items.extend(judge_pod(_asks(ctx, name, tool.spec.image, account, own),
                                   ctx.pods.policy))
    timeout = tool.spec.timeout_seconds
    task = {"arguments": {"parameters": [parameter(STEP_PARAM, ctx.step_label)]}}
    return Emitted(f"{TEMPLATE_NAME}{name}", template, task,
                   default_timeout=timeout if timeout and timeout > 0 else None)


def _container(step: Step, tool: Tool, ctx: StepContext) -> dict[str, Any]:
    name, spec = tool.metadata.name or "", tool.spec
    rendered, unresolved = render_tool(tool, ctx.parameters)
    for problem in unresolved:
        if problem.parameter is not None:
            ctx.out.add(
                Reason.MISSING_STEP_FIELD, ctx.path.child("with"),
                f"Tool {quote(name)} uses {problem.placeholder} ({problem.field}), but neither "
                f"the step's with nor the run's parameters give {quote(problem.parameter)}",
                names=(problem.parameter,),
                hint=f"add {problem.parameter} to the step's with")
        else:
            _refuse(ctx, name, problem.field,
                    f"{quote(problem.placeholder)} names nothing orch renders "
                    "(only {{parameters.NAME}} and {{tool.PATH}})")
    if not spec.image:
        ctx.out.add(Reason.MISSING_STEP_FIELD, ctx.path.child("toolRef"),
                    f"Tool {quote(name)} has no spec.image; a ToolRun step runs it",
                    names=("image",))
    elif IMAGE.problem(spec.image):
        _refuse(ctx, name, "spec.image", f"{quote(spec.image)} {IMAGE.problem(spec.image)}")
    if spec.command is None and not spec.args:
        ctx.out.add(Reason.MISSING_STEP_FIELD, ctx.path.child("toolRef"),
                    f"Tool {quote(name)} has neither spec.command nor spec.args "
                    "(the reference system refuses to run it)", names=("command",))
    if spec.working_dir and "{{" in spec.working_dir:
        _refuse(ctx, name, "spec.workingDir",
                f"{quote(spec.working_dir)} holds '{{{{': Argo would evaluate it, and "
                "Kubernetes does not expand $(VAR) in workingDir, so orch cannot carry it")
    for i, entry in enumerate(spec.env or ()):
        wrong = ENV_NAME.problem(entry.name) if entry.name else (
            "is empty: an env var needs a name (the reference controller would drop the "
            "entry without a word)")
        if wrong:
            _refuse(ctx, name, f"spec.env[{i}].name", f"{quote(entry.name)} {wrong}")
    container: dict[str, Any] = {"image": spec.image or ""}
    if rendered.command is not None:
        container["command"] = [written(c) for c in rendered.command]
    if rendered.args is not None:
        container["args"] = [written(a) for a in rendered.args]
    if spec.working_dir:
        container["workingDir"] = spec.working_dir
    env = [{"name": k, "value": written(v)} for k, v in rendered.env]
    texts = [*container.get("command", ()), *container.get("args", ()),
             *(e["value"] for e in env)]
    if needs_brace(texts):
        env.insert(0, {"name": BRACE_VAR, "value": "{"})
    if env:
        container["env"] = env
    return container


def _refuse(ctx: StepContext, tool: str, field: str, what: str) -> None:
    ctx.out.add(Reason.INVALID_FIELD, ctx.path.child("toolRef"),
                f"Tool {quote(tool)} {field}: {what}", names=(tool,))


# securityContext is orch's own key (contract §4), read by no reference controller.
KIND = Kind(TOOL_RUN, build, check, template=TEMPLATE_NAME, parameter_name=WITH_KEY,
            extra_keys=(*keys_read(TOOL_RUN), SECURITY_CONTEXT))
