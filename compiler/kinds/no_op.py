"""`Checkpoint` and `MemoryOp` steps: no-ops that succeed, as the reference
controller does nothing for them. A zero-length `suspend` runs no pod and needs
no image; Argo ignores `timeout` on it, so a timeout there is reported."""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Collector, FieldPath
from compiler.kinds.base import Emitted, Kind, StepContext
from compiler.resume import NO_OP
from compiler.step_fields import keys_read
from orchapi.models import Step

TEMPLATE_NAME = "no-op"



def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    """Nothing is required: the step only marks a point in the graph."""


def build(step: Step, ctx: StepContext) -> Emitted:
    return Emitted(TEMPLATE_NAME, {"suspend": dict(NO_OP["suspend"])}, honours_timeout=False,
                   honours_retries=False)


# The reference system's examples name the memory these steps touch (read by nothing).
CHECKPOINT = Kind("Checkpoint", build, check, template=TEMPLATE_NAME,
                  extra_keys=keys_read("Checkpoint"))
MEMORY_OP = Kind("MemoryOp", build, check, template=TEMPLATE_NAME,
                 extra_keys=keys_read("MemoryOp"))
