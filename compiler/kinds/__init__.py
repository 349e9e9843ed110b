"""One module per step kind; the registry maps the `kind` string to it."""

from __future__ import annotations

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
RESERVED_TEMPLATE_NAMES = frozenset(
    {"agent-run", "tool-run", "sub-orchestration", "approval-gate", "signal-wait", "no-op",
     OUTCOME_TEMPLATE, REUSED_TEMPLATE}
)

__all__ = ["KINDS", "RESERVED_TEMPLATE_NAMES", "Emitted", "Kind", "StepContext"]
