"""`ApprovalGate` steps wait until the named ApprovalPolicy is decided.

A `resource` wait (action `get` with conditions), not `suspend`: the decision
lives in the ApprovalPolicy's status, and a resource wait honours `timeout`
and `retries`, where a suspend node ignores `timeout` and its `duration` would
*succeed* on expiry.
"""

from __future__ import annotations

from typing import Any

from compiler.api import APPROVALS_API_VERSION
from compiler.diagnostics import Collector, FieldPath
from compiler.kinds.base import Emitted, Kind, StepContext, require_ref
from compiler.kinds.resource import resource_step, wait_template
from compiler.models import Step

TEMPLATE = wait_template(
    APPROVALS_API_VERSION,
    "ApprovalPolicy",
    "status.phase == Approved",
    "status.phase in (Rejected,Denied)",
)


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    require_ref(step, "policyRef", path, out, "the ApprovalPolicy's name")


def build(step: Step, ctx: StepContext) -> Emitted:
    assert step.policy_ref is not None
    return resource_step("approval-gate", TEMPLATE, ctx.step_label, name=step.policy_ref)


KIND = Kind("ApprovalGate", build, check)
