"""The install's seal key (`controller.seal`): a Secret in the controller's own
namespace, made by the first replica that finds none.

Why a Secret the controller makes itself, not one the chart renders: a chart would
need `lookup` to keep the key across upgrades, and `helm template` (GitOps) renders
a new one each time, which would unseal every run. Made once, it outlives upgrades
and uninstalls (the chart does not own it). Its creation time is the epoch before
which runs were never sealed (`Sealer.epoch`). Deleting it starts a new epoch: the
runs created before are then judged as before sealing, never rewritten.
"""

from __future__ import annotations

import base64
import binascii
import logging

from controller.kube import AlreadyExistsError, Kube
from controller.seal import KEY_BYTES, Sealer
from orchapi.api import Obj

log = logging.getLogger("orch.seal")
KEY = "key"


class SealKeyError(Exception):
    """The Secret exists but holds no usable key."""


def seal_secret_name(lease_name: str) -> str:
    """The Secret's name: the release's (its Lease's) name and `-seal`."""
    return f"{lease_name}-seal"


def sealer_of(secret: Obj) -> Sealer:
    meta = secret.get("metadata") or {}
    where = f"Secret {meta.get('namespace')}/{meta.get('name')}"
    try:
        key = base64.b64decode((secret.get("data") or {}).get(KEY) or "", validate=True)
    except (binascii.Error, ValueError):
        raise SealKeyError(f"{where}: data.{KEY} is not base64") from None
    if len(key) < KEY_BYTES:
        raise SealKeyError(f"{where}: data.{KEY} holds {len(key)} bytes; a seal key has at "
                           f"least {KEY_BYTES} (delete the Secret to make a new one)")
    created = meta.get("creationTimestamp")
    return Sealer(key, str(created) if created else None)


def load_sealer(kube: Kube, namespace: str, name: str) -> Sealer:
    """The key in Secret `namespace/name`, made first if there is none (two replicas
    starting at once: one create wins, the other reads it)."""
    found = kube.get_secret(namespace, name)
    if found is None:
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name, "labels": {
                    "app.kubernetes.io/component": "seal-key",
                    "app.kubernetes.io/managed-by": "orch-controller"}},
                "data": {KEY: Sealer.generate().key_text()}}
        try:
            found = kube.create_secret(namespace, body)
            log.info("seal key made", extra={"secret": f"{namespace}/{name}"})
        except AlreadyExistsError:
            found = kube.get_secret(namespace, name)
        if found is None:
            raise SealKeyError(f"Secret {namespace}/{name} vanished as it was made")
    return sealer_of(found)
