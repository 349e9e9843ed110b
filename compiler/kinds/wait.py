"""What an ApprovalGate or SignalWait step carries in its Workflow, so that the
controller can find and decide the wait (contract §4: a `suspend` node the
controller resumes or fails).

Why one module: the compiler writes this and the controller reads it back from
the Workflow's node status (Argo copies a suspend template's resolved inputs into
its node), so both sides share one encoding. The wait travels as one template
input parameter, `wait`, holding JSON: Argo substitutes a template's parameter
values into the template twice (`common.SubstituteParams`, v4.0.5), so a `{{` in
a value (a deliveryId is free text) would be evaluated there; the JSON is written
with the braces of `{{` escaped (`\\u007b\\u007b`), which Argo leaves alone and the
controller's JSON reader turns back into the value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compiler.kinds.base import Emitted, no_expansion_json, parameter
from orchapi.api import APPROVAL_GATE as APPROVAL_GATE  # (re-exported: the kinds' home)
from orchapi.api import SIGNAL_WAIT as SIGNAL_WAIT
from orchapi.api import WAIT_KINDS as WAIT_KINDS

WAIT_PARAM = "wait"
TEMPLATE_NAME = "wait"  # one template for both wait kinds


@dataclass(frozen=True)
class WaitSpec:
    """One wait: an approval of `policy`, or a delivery of `signal` (and, when
    given, with `delivery_id`); `timeout_seconds` is enforced by the controller."""

    kind: str
    policy: str | None = None
    signal: str | None = None
    delivery_id: str | None = None
    timeout_seconds: int | None = None

    def encode(self) -> str:
        """The `wait` parameter's value."""
        data: dict[str, Any] = {"kind": self.kind}
        for key, value in (("policy", self.policy), ("signal", self.signal),
                           ("deliveryId", self.delivery_id),
                           ("timeoutSeconds", self.timeout_seconds)):
            if value is not None:
                data[key] = value
        return no_expansion_json(data)

    @property
    def waiting_message(self) -> str:
        """What the step's status says while it waits."""
        if self.kind == APPROVAL_GATE:
            return f"Waiting for approval of {self.policy}"
        if self.signal is None:
            return f"Waiting for signal delivery {self.delivery_id}"
        return f"Waiting for signal {self.signal}"


def decode_wait(text: Any) -> WaitSpec | None:
    """The wait a `wait` parameter value describes; None when it is not one (a
    Workflow this compiler did not write, or a value someone edited)."""
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("kind") not in WAIT_KINDS:
        return None
    strings = {k: data.get(k) for k in ("policy", "signal", "deliveryId")}
    if any(v is not None and not isinstance(v, str) for v in strings.values()):
        return None
    timeout = data.get("timeoutSeconds")
    if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool)):
        return None
    spec = WaitSpec(str(data["kind"]), strings["policy"], strings["signal"],
                    strings["deliveryId"], timeout)
    if spec.kind == APPROVAL_GATE and not spec.policy:
        return None
    if spec.kind == SIGNAL_WAIT and not (spec.signal or spec.delivery_id):
        return None
    return spec


def wait_of_node(node: Mapping[str, Any]) -> WaitSpec | None:
    """The wait of an Argo node (its resolved inputs), if it is one of ours."""
    for param in (node.get("inputs") or {}).get("parameters") or ():
        if isinstance(param, Mapping) and param.get("name") == WAIT_PARAM:
            return decode_wait(param.get("value"))
    return None


# -- the two wait kinds' shared compile side ---------------------------------------
TEMPLATE: dict[str, Any] = {"inputs": {"parameters": [{"name": WAIT_PARAM}]}, "suspend": {}}


def wait_step(spec: WaitSpec) -> Emitted:
    """A suspend node (no pod) that carries the wait for the controller; Argo
    refuses a `timeout` on it, so the timeout travels in the wait and the controller
    enforces it. No retries (contract §4), though Argo would retry a suspend
    template that had a retryStrategy (operator.go l.2313, v4.0.5): the decision
    would only be asked again. Both kinds share the one template `wait`:
    what differs is in the task's argument."""
    task = {"arguments": {"parameters": [parameter(WAIT_PARAM, spec.encode())]}}
    return Emitted(TEMPLATE_NAME, dict(TEMPLATE), task, honours_retries=False,
                   why_no_retries="is a wait the controller decides once",
                   honours_timeout=False, timeout_by_controller=True)
