"""`SignalWait` steps wait until a SignalDelivery for them exists: a `suspend`
node (no pod waits) that the controller resumes once a delivery whose
`spec.signalRef.name` and `spec.deliveryId` match the step's exists, whenever it
arrives (`controller.waits`), or fails at the step's timeoutSeconds.

`signalRef` (a name, or `{name: ...}`) and `deliveryId` may stand on the step or
in its `with`, as in the reference system's examples; it needs one of them, as
the reference does, and a delivery must match each one given."""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Collector, FieldPath, Reason
from compiler.kinds.base import Emitted, Kind, StepContext, ref_name, require_ref
from compiler.kinds.wait import SIGNAL_WAIT, WaitSpec, step_field, wait_step
from compiler.models import Step
from compiler.names import quote


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    signal, where = step_field(step, "signalRef")
    delivery, delivery_at = step_field(step, "deliveryId")
    if signal is None and delivery is None:
        out.add(Reason.MISSING_STEP_FIELD, path.child("signalRef"),
                "a SignalWait step needs signalRef (the Signal to wait for) or deliveryId "
                "(the delivery's spec.deliveryId), on the step or in with",
                names=("signalRef", "deliveryId"))
        return
    if signal is not None:
        if ref_name(signal) is None:
            out.add(Reason.INVALID_FIELD, path.child(*where),
                    "signalRef must be a Signal's name or {name: ...}", names=("signalRef",))
        else:
            require_ref({"signalRef": signal, "kind": SIGNAL_WAIT}, "signalRef",
                        path.child(*where[:-1]), out, "the Signal to wait for")
    if delivery is not None and (not isinstance(delivery, str) or not delivery):
        out.add(Reason.INVALID_FIELD, path.child(*delivery_at),
                f"deliveryId must be a non-empty string, got {quote(str(delivery))}",
                names=("deliveryId",))


def build(step: Step, ctx: StepContext) -> Emitted:
    raw = step.model_dump(by_alias=True, exclude_none=True)
    signal = ref_name(step_field(raw, "signalRef")[0])
    delivery = step_field(raw, "deliveryId")[0]
    spec = WaitSpec(SIGNAL_WAIT, signal=signal,
                    delivery_id=delivery if isinstance(delivery, str) else None,
                    timeout_seconds=step.timeout_seconds or None)
    return wait_step(spec)


KIND = Kind(SIGNAL_WAIT, build, check, extra_keys=("signalRef", "deliveryId"))
