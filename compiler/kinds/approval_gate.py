"""`ApprovalGate` steps wait until their ApprovalPolicy is decided: a `suspend`
node (no pod waits) that the controller resumes or fails as the policy's
`status.phase` says (`controller.waits`: approved/allowed/ready/succeeded pass,
denied/rejected/blocked/failed fail, any case), or fails at the step's
timeoutSeconds. A person may resume it with `argo resume`. The policy is named
by `policyRef` on the step or in its `with`, as the reference system reads it."""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Collector, FieldPath, Reason
from compiler.kinds.base import Emitted, Kind, StepContext, ref_name, require_ref
from compiler.kinds.wait import APPROVAL_GATE, WaitSpec, step_field, wait_step
from compiler.models import Step


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    value, where = step_field(step, "policyRef")
    if ref_name(value) is None:
        out.add(Reason.MISSING_STEP_FIELD, path.child("policyRef"),
                "an ApprovalGate step needs policyRef (the ApprovalPolicy's name), "
                "on the step or in with", names=("policyRef",))
        return
    require_ref({"policyRef": value, "kind": APPROVAL_GATE}, "policyRef",
                path.child(*where[:-1]), out, "the ApprovalPolicy's name")


def build(step: Step, ctx: StepContext) -> Emitted:
    raw = step.model_dump(by_alias=True, exclude_none=True)
    policy = ref_name(step_field(raw, "policyRef")[0])
    assert policy is not None
    spec = WaitSpec(APPROVAL_GATE, policy=policy, timeout_seconds=step.timeout_seconds or None)
    return wait_step(spec)


KIND = Kind(APPROVAL_GATE, build, check)
