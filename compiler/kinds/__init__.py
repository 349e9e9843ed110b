"""One module per step kind; the registry maps the `kind` string to it, and
declares every template name a compiled Workflow holds."""

from __future__ import annotations

from compiler.gates import GATE_TEMPLATE
from compiler.kinds import (
    agent_run,
    approval_gate,
    container,
    no_op,
    signal_wait,
    sub_orchestration,
    template,
    tool_run,
)
from compiler.kinds.base import Emitted, Kind, StepContext
from compiler.outcome import OUTCOME_TEMPLATE
from compiler.resume import REUSED_TEMPLATE

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        agent_run.KIND,
        tool_run.KIND,
        sub_orchestration.KIND,
        approval_gate.KIND,
        signal_wait.KIND,
        no_op.CHECKPOINT,
        no_op.MEMORY_OP,
        container.KIND,
        template.KIND,
    )
}
# The templates the compiler adds beside its steps' (what each is, for a person).
# The controller and the status mirror recognise them by their names
# (compiler.outcome, compiler.gates, compiler.resume), so no entrypoint may take one.
COMPILER_TEMPLATES = {OUTCOME_TEMPLATE: "outcome", GATE_TEMPLATE: "gate",
                      REUSED_TEMPLATE: "reused-step"}
# How every step's template name begins, by kind (`Kind.template`). None is read by
# name: one that would take the entrypoint's name takes a digest (`emit._intern`).
STEP_TEMPLATES = frozenset(k.template for k in KINDS.values() if k.template)
RESERVED_TEMPLATE_NAMES = frozenset(COMPILER_TEMPLATES)

__all__ = ["COMPILER_TEMPLATES", "KINDS", "RESERVED_TEMPLATE_NAMES", "STEP_TEMPLATES", "Emitted",
           "Kind", "StepContext"]
