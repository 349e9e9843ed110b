"""`ApprovalGate` steps wait until their ApprovalPolicy is decided: a `suspend`
node (no pod waits) that the controller resumes or fails as the policy's
`status.phase` says (`controller.waits`: approved/allowed/ready/succeeded pass,
denied/rejected/blocked/failed fail, any case), or fails at the step's
timeoutSeconds. A person may resume it with `argo resume`. The policy is named
by `policyRef` on the step or in its `with`, as the reference system reads it."""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Collector, FieldPath
from compiler.kinds.base import Emitted, Kind, StepContext, check_name
from compiler.kinds.wait import APPROVAL_GATE, TEMPLATE_NAME, WaitSpec, wait_step
from compiler.step_fields import Reader, keys_read, reader_of
from orchapi.models import Step
from orchapi.names import DNS_SUBDOMAIN_NAME
from orchapi.vocabulary import Reason


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    reader = Reader(step, path, out)
    policy = reader.name("policyRef")
    if policy is None:
        out.add(Reason.MISSING_STEP_FIELD, path.child("policyRef"),
                "an ApprovalGate step needs policyRef (the ApprovalPolicy's name), "
                "on the step or in with", names=("policyRef",))
        return
    check_name(policy, DNS_SUBDOMAIN_NAME, path.child(*reader.where["policyRef"]), out)


def build(step: Step, ctx: StepContext) -> Emitted:
    policy = reader_of(step).name("policyRef")
    assert policy is not None
    spec = WaitSpec(APPROVAL_GATE, policy=policy, timeout_seconds=step.timeout_seconds or None)
    return wait_step(spec)


KIND = Kind(APPROVAL_GATE, build, check, template=TEMPLATE_NAME,
            extra_keys=keys_read(APPROVAL_GATE))
