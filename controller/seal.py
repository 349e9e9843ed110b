"""What the controller itself wrote, told apart from what anyone else wrote
(contract §6 tenancy; issue 22 items 9 and 10), as pure functions of a key.

Why: a tenant may hold every verb on `orchestrationruns/status` (the reference
system's writers need it) and on Argo `workflows`, so anything the controller reads
back from a run's status or from a Workflow may have been written by the tenant:
a status `{phase: Succeeded, observedGeneration: G}` that would make the run look
settled, a `workflowRef` naming a Workflow the tenant made, an ownerReference
pointing a foreign Workflow at the run. What the tenant cannot do is compute a
keyed MAC: the key lives in a Secret of the controller's own namespace, which a
tenant cannot read (nor, in its own namespace, any Secret).

- The run's status carries `status.seal`: HMAC-SHA256 over the run's uid and every
  field of the status the controller owns (`controller.status.OWN_KEYS`, its own
  keys of each step entry, its own condition types). A status whose seal does not
  verify is read as if the controller had written nothing (`untrusted_view`): it
  is never settled, never "submitted", and its fields are never carried forward.
  Fields other writers own (the reference system's `runId`, `updatedAt`, foreign
  conditions) are outside the seal, so those writers keep working.
- A Workflow is the run's only if the controller created it: its uid is the one
  the sealed status records, or one this process created and has not recorded yet
  (`Trust.workflows`). A seal names the uid the apiserver gave the Workflow, which
  no tenant can choose, so a seal copied onto another object proves nothing, and a
  replayed older status of the same run can only name a Workflow the controller
  really created for it.
- Runs created before the key existed (`epoch`, the key Secret's creation time; the
  apiserver sets every creationTimestamp, so no tenant can backdate a run) were
  never sealed: they are judged as before (the ownerReference alone), so an upgrade
  neither restarts nor rewrites the runs it finds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.status import OWN_KEYS, OWN_STEP_KEYS
from orchapi.api import Obj, parse_time
from orchapi.vocabulary import ConditionType

SEAL = "seal"  # the status field
VERSION = "v1"
KEY_BYTES = 32
_OWN_CONDITIONS = frozenset(str(t) for t in ConditionType)


@dataclass(frozen=True)
class Trust:
    """What of a run the controller may believe. `status`: its status' own fields
    are the controller's. `workflows`: the uids of the Workflows this controller
    created for the run (None: a run from before sealing, whose Workflow is known by
    its ownerReference alone)."""

    status: bool = False
    workflows: frozenset[str] | None = frozenset()

    def created(self, uid: str | None) -> bool:
        return self.workflows is None or (uid is not None and uid in self.workflows)


NOTHING = Trust()  # believe nothing (the default of a decision's facts)


def sealed_part(status: Mapping[str, Any]) -> Obj:
    """The fields of a status the seal covers: the controller's own, in a canonical
    form (its own keys of each step entry; its own conditions, in order)."""
    out: Obj = {}
    for key in OWN_KEYS:
        if key == SEAL or key not in status:
            continue
        value = status[key]
        if key == "stepStatuses" and isinstance(value, list):
            value = [{k: v for k, v in s.items() if k in OWN_STEP_KEYS}
                     for s in value if isinstance(s, Mapping)]
        elif key == "conditions" and isinstance(value, list):
            value = [c for c in value if isinstance(c, Mapping)
                     and c.get("type") in _OWN_CONDITIONS]
        out[key] = value
    return out


def untrusted_view(status: Mapping[str, Any]) -> Obj:
    """A status whose seal does not verify, read as if the controller had written
    nothing: only what other writers own is kept (their keys, their conditions,
    their keys of each step entry)."""
    out: Obj = {k: v for k, v in status.items() if k not in OWN_KEYS}
    conditions = [c for c in status.get("conditions") or () if isinstance(c, Mapping)
                  and c.get("type") not in _OWN_CONDITIONS]
    if conditions:
        out["conditions"] = conditions
    steps = [{k: v for k, v in s.items() if k not in OWN_STEP_KEYS or k == "name"}
             for s in status.get("stepStatuses") or ()
             if isinstance(s, Mapping) and isinstance(s.get("name"), str)]
    if any(len(s) > 1 for s in steps):
        out["stepStatuses"] = [s for s in steps if len(s) > 1]
    return out


@dataclass(frozen=True)
class Sealer:
    """Seals and verifies with one key; `epoch` (RFC 3339): runs created before it
    were never sealed (None: every run must be)."""

    key: bytes = field(repr=False)
    epoch: str | None = None

    @staticmethod
    def generate(epoch: str | None = None) -> Sealer:
        return Sealer(secrets.token_bytes(KEY_BYTES), epoch)

    def key_text(self) -> str:
        """The key as a Secret's `data` holds it (base64)."""
        return base64.b64encode(self.key).decode()

    def _mac(self, *parts: str) -> str:
        text = "\x00".join(parts).encode()
        return f"{VERSION}.{hmac.new(self.key, text, hashlib.sha256).hexdigest()}"

    def status_seal(self, run_uid: str, status: Mapping[str, Any]) -> str:
        body = json.dumps(sealed_part(status), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)
        return self._mac("status", run_uid, body)

    def seal(self, run: Mapping[str, Any], status: Mapping[str, Any]) -> Obj:
        """`status` with its seal, for the run it is written to."""
        uid = str((run.get("metadata") or {}).get("uid") or "")
        bare = {k: v for k, v in status.items() if k != SEAL}
        return {**bare, SEAL: self.status_seal(uid, bare)}

    def is_sealed(self, run: Mapping[str, Any]) -> bool:
        """The run's status is, in every field the controller owns, what it wrote."""
        status = run.get("status") or {}
        found = status.get(SEAL)
        uid = str((run.get("metadata") or {}).get("uid") or "")
        return isinstance(found, str) and bool(uid) and hmac.compare_digest(
            found, self.status_seal(uid, status))

    def predates(self, run: Mapping[str, Any]) -> bool:
        """Created before sealing began (judged as before: see the module's doc)."""
        if self.epoch is None:
            return False
        created = parse_time(str((run.get("metadata") or {}).get("creationTimestamp") or ""))
        epoch = parse_time(self.epoch)
        return created is not None and epoch is not None and created < epoch

    def trusts_status(self, run: Mapping[str, Any]) -> bool:
        return self.predates(run) or self.is_sealed(run)

    def trust(self, run: Mapping[str, Any], created: Collection[str] = ()) -> Trust:
        """What the controller may believe of `run`, given the Workflow uids this
        process created for it and has not seen recorded yet."""
        if self.predates(run):
            return Trust(True, None)
        if not self.is_sealed(run):
            return Trust(False, frozenset(created))
        status = run.get("status") or {}
        ref = (status.get("workflowRef") or {}).get("uid")
        # A split run's Workflows (contract §8): each uid the sealed status records.
        parts = {str(w["uid"]) for w in status.get("workflows") or ()
                 if isinstance(w, Mapping) and w.get("uid")}
        return Trust(True, frozenset(created) | ({str(ref)} if ref else set()) | parts)
