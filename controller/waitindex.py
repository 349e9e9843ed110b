"""Which runs wait on what, and which SignalDeliveries exist: the index that lets
an ApprovalPolicy or SignalDelivery event wake exactly the runs it may release.

Why an index and no polling: a wait may last hours, and 200 idle waits must cost
the apiserver nothing. The controller watches ApprovalPolicies and
SignalDeliveries; each event is turned into *targets* (`("policy", name)`,
`("signal", name)`, `("delivery", deliveryId)`) and the runs whose Workflows have
an active suspend node waiting on one of them are reconciled. The index is built
from the Workflow watch (the waiting nodes of each running Workflow), so it is
level-based like the rest: a relist rebuilds it. Deliveries are kept by target
too, so deciding a SignalWait reads the few deliveries that may match, not all
of a namespace's.

Thread-safe: the watch threads write, the workers read.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from compiler.kinds.wait import APPROVAL_GATE, WaitSpec
from controller.waits import workflow_waits
from orchapi.api import Obj

Target = tuple[str, str]
POLICY, SIGNAL, DELIVERY = "policy", "signal", "delivery"


def wait_targets(spec: WaitSpec) -> list[Target]:
    """What a wait can be released by. A SignalWait with a signal is found by the
    signal (a delivery always names one: the CRD requires `signalRef`)."""
    if spec.kind == APPROVAL_GATE:
        return [(POLICY, str(spec.policy))]
    if spec.signal is not None:
        return [(SIGNAL, spec.signal)]
    return [(DELIVERY, str(spec.delivery_id))]


def delivery_targets(delivery: Mapping[str, Any]) -> list[Target]:
    spec = delivery.get("spec") or {}
    ref = spec.get("signalRef")
    out: list[Target] = []
    if isinstance(ref, Mapping) and isinstance(ref.get("name"), str):
        out.append((SIGNAL, ref["name"]))
    if isinstance(spec.get("deliveryId"), str):
        out.append((DELIVERY, spec["deliveryId"]))
    return out


def policy_targets(policy: Mapping[str, Any]) -> list[Target]:
    name = (policy.get("metadata") or {}).get("name")
    return [(POLICY, name)] if isinstance(name, str) else []


def delivery_view(delivery: Mapping[str, Any]) -> Obj:
    """A SignalDelivery cut to what a decision reads (no payload)."""
    meta = delivery.get("metadata") or {}
    spec = delivery.get("spec") or {}
    out: Obj = {"metadata": {k: meta[k] for k in ("name", "namespace", "uid",
                                                  "resourceVersion", "creationTimestamp")
                             if k in meta},
                "spec": {k: spec[k] for k in ("signalRef", "deliveryId") if k in spec}}
    for k in ("apiVersion", "kind"):
        if k in delivery:
            out[k] = delivery[k]
    return out


class WaitIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (namespace, workflow) -> (run key, its targets)
        self._workflows: dict[tuple[str, str], tuple[Hashable, frozenset[Target]]] = {}
        # (namespace, target) -> {(namespace, workflow)}
        self._waiting: dict[tuple[str, Target], set[tuple[str, str]]] = {}
        # (namespace, name) -> delivery view; (namespace, target) -> {names}
        self._deliveries: dict[tuple[str, str], Obj] = {}
        self._by_target: dict[tuple[str, Target], set[str]] = {}

    # -- waits ---------------------------------------------------------------------------
    def set_workflow(self, namespace: str, workflow: str, run: Hashable | None,
                     targets: Iterable[Target]) -> None:
        """What one Workflow's waiting nodes wait on now (nothing: it waits no more)."""
        key, wanted = (namespace, workflow), frozenset(targets)
        with self._lock:
            old = self._workflows.pop(key, None)
            for target in old[1] if old else ():
                held = self._waiting.get((namespace, target))
                if held is not None:
                    held.discard(key)
                    if not held:
                        del self._waiting[(namespace, target)]
            if run is None or not wanted:
                return
            self._workflows[key] = (run, wanted)
            for target in wanted:
                self._waiting.setdefault((namespace, target), set()).add(key)

    def waiting_runs(self, namespace: str, targets: Iterable[Target]) -> set[Hashable]:
        with self._lock:
            return {self._workflows[wf][0] for t in targets
                    for wf in self._waiting.get((namespace, t), ())}

    def waiting_count(self) -> int:
        with self._lock:
            return len(self._workflows)

    # -- deliveries ------------------------------------------------------------------------
    def put_delivery(self, delivery: Mapping[str, Any]) -> None:
        view = delivery_view(delivery)
        meta = view["metadata"]
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        with self._lock:
            self._drop_delivery(namespace, name)
            self._deliveries[(namespace, name)] = view
            for target in delivery_targets(view):
                self._by_target.setdefault((namespace, target), set()).add(name)

    def remove_delivery(self, delivery: Mapping[str, Any]) -> None:
        meta = delivery.get("metadata") or {}
        with self._lock:
            self._drop_delivery(str(meta.get("namespace") or ""), str(meta.get("name") or ""))

    def _drop_delivery(self, namespace: str, name: str) -> None:
        old = self._deliveries.pop((namespace, name), None)
        for target in delivery_targets(old) if old else ():
            names = self._by_target.get((namespace, target))
            if names is not None:
                names.discard(name)
                if not names:
                    del self._by_target[(namespace, target)]

    def deliveries_for(self, namespace: str, spec: WaitSpec) -> list[Obj]:
        """The deliveries that may release `spec` (by name order), as views."""
        with self._lock:
            names: set[str] = set()
            for target in wait_targets(spec):
                names |= self._by_target.get((namespace, target), set())
            return [self._deliveries[(namespace, n)] for n in sorted(names)]


def policy_view(policy: Mapping[str, Any]) -> Obj:
    """An ApprovalPolicy cut to what a decision reads: its name and phase."""
    meta = policy.get("metadata") or {}
    out: Obj = {"metadata": {k: meta[k] for k in ("name", "namespace", "uid",
                                                  "resourceVersion") if k in meta}}
    phase = (policy.get("status") or {}).get("phase")
    if phase is not None:
        out["status"] = {"phase": phase}
    for k in ("apiVersion", "kind"):
        if k in policy:
            out[k] = policy[k]
    return out


def workflow_targets(workflow: Mapping[str, Any]) -> list[Target]:
    """What the waiting nodes of a (running) Workflow can be released by."""
    return [t for w in workflow_waits(workflow) for t in wait_targets(w.spec)]
