"""`SignalWait` steps wait until the SignalDelivery named by `deliveryId` is
delivered. `signalRef` and `deliveryId` may stand on the step or in `with`, as
in the reference system's examples. A resource wait, for the reasons given in
`approval_gate`."""

from __future__ import annotations

from typing import Any

from compiler.api import SIGNALS_API_VERSION
from compiler.diagnostics import Collector, FieldPath, Reason
from compiler.kinds.base import Emitted, Kind, StepContext, ref_name, require_ref
from compiler.kinds.resource import resource_step, wait_template
from compiler.models import Step

TEMPLATE = wait_template(
    SIGNALS_API_VERSION,
    "SignalDelivery",
    "status.phase == Delivered",
    "status.phase in (Failed,Expired)",
)


def _field(step: dict[str, Any], key: str) -> tuple[Any, FieldPath]:
    with_ = step.get("with")
    if key not in step and isinstance(with_, dict) and key in with_:
        return with_[key], FieldPath(("with", key))
    return step.get(key), FieldPath((key,))


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    for key, what in (
        ("signalRef", "the Signal to wait for"),
        ("deliveryId", "the SignalDelivery's name"),
    ):
        value, where = _field(step, key)
        if ref_name(value) is None:
            out.add(
                Reason.MISSING_STEP_FIELD,
                path.child(key),
                f"a SignalWait step needs {key} ({what}), on the step or in with",
                names=(key,),
            )
        else:
            require_ref(
                {key: value, "kind": "SignalWait"}, key, path.child(*where.parts[:-1]), out, what
            )


def build(step: Step, ctx: StepContext) -> Emitted:
    raw = step.model_dump(by_alias=True, exclude_none=True)
    delivery = ref_name(_field(raw, "deliveryId")[0])
    assert delivery is not None
    return resource_step("signal-wait", TEMPLATE, ctx.step_label, name=delivery)


KIND = Kind("SignalWait", build, check, extra_keys=("signalRef", "deliveryId"))
