"""`SignalWait` steps wait until a SignalDelivery for them exists: a `suspend`
node (no pod waits) that the controller resumes once a delivery whose
`spec.signalRef.name` and `spec.deliveryId` match the step's exists, whenever it
arrives (`controller.waits`), or fails at the step's timeoutSeconds.

`signalRef` (a name, or `{name: ...}`) and `deliveryId` may stand on the step or
in its `with`, as in the reference system's examples; it needs one of them, as
the reference does, and a delivery must match each one given."""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Collector, FieldPath
from compiler.kinds.base import Emitted, Kind, StepContext, check_name
from compiler.kinds.wait import SIGNAL_WAIT, TEMPLATE_NAME, WaitSpec, wait_step
from compiler.step_fields import Reader, keys_read, reader_of
from orchapi.models import Step
from orchapi.names import DNS_SUBDOMAIN_NAME, quote
from orchapi.vocabulary import Reason


def check(step: dict[str, Any], path: FieldPath, out: Collector) -> None:
    reader = Reader(step, path, out)
    own = step.get("signalRef")
    if own is not None and not isinstance(own, (str, dict)):
        out.add(Reason.INVALID_FIELD, path.child("signalRef"),
                "signalRef must be a Signal's name or {name: ...}", names=("signalRef",))
    delivery = step.get("deliveryId")
    if delivery is not None and not isinstance(delivery, str):
        out.add(Reason.INVALID_FIELD, path.child("deliveryId"),
                f"deliveryId must be a string, got {quote(str(delivery))}",
                names=("deliveryId",))
    signal = reader.signal()
    if signal is None and reader.name("deliveryId") is None:
        out.add(Reason.MISSING_STEP_FIELD, path.child("signalRef"),
                "a SignalWait step needs signalRef (the Signal to wait for) or deliveryId "
                "(the delivery's spec.deliveryId), on the step or in with",
                names=("signalRef", "deliveryId"))
    elif signal is not None:
        check_name(signal, DNS_SUBDOMAIN_NAME, path.child(*reader.where["signalRef"]), out)


def build(step: Step, ctx: StepContext) -> Emitted:
    reader = reader_of(step)
    spec = WaitSpec(SIGNAL_WAIT, signal=reader.signal(), delivery_id=reader.name("deliveryId"),
                    timeout_seconds=step.timeout_seconds or None)
    return wait_step(spec)


KIND = Kind(SIGNAL_WAIT, build, check, template=TEMPLATE_NAME,
            extra_keys=keys_read(SIGNAL_WAIT))
