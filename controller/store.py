"""The informer's cache: the objects of one list+watch, kept small.

Why not a dict of the objects as the apiserver sends them: a controller runs for
months beside thousands of retained runs, and a Python dict of a 200-step
Workflow is about 0.6 MB (0.27 MB trimmed to what the mirror reads). So:
- each object is first cut to a *view* (`view`: a Workflow to what
  `controller.mirror.workflow_view` lists, any object without `managedFields`);
- a *cold* object (`is_cold`: a settled run, an ended Workflow), which the
  controller will rarely read again, is kept as compressed JSON (about 7 KB for
  that Workflow) and decoded on the rare read; so is any object whose view is
  larger than `pack_over` bytes of JSON, hot or not: a tenant's thousand waiting
  runs of 200 steps, or an object at the apiserver's size limit, then cost their
  compressed size, not 10-25x their JSON (issue 22); a small hot one stays a dict;
  a decode is parsed within the process's parse budget (`compiler.jsoncost`);
- a *summary* (`summarize`: a run's phase, say) is kept beside each object, so
  the metrics and the event filters never decode anything;
- with `keep_deleted`, the last state of a deleted object is kept for a while
  (a *tombstone*): a Workflow deleted right after it ended (Argo's TTL) still
  tells the run how it ended (contract §5).

Objects handed out are shared or freshly decoded: callers never mutate them.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from compiler import jsoncost
from orchapi.api import Obj

Key = tuple[str, str]  # (namespace, name)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
TOMBSTONE_TTL = 600.0  # seconds a deleted object's last state is kept
TOMBSTONE_MAX = 1024


def without_bookkeeping(obj: Obj) -> Obj:
    """The object without what no reader here uses and the apiserver keeps anyway:
    `managedFields` (kept server-side when a write omits them) and kubectl's
    last-applied annotation (a second copy of the spec)."""
    meta = obj.get("metadata") or {}
    if "managedFields" not in meta and LAST_APPLIED not in (meta.get("annotations") or {}):
        return obj
    meta = {k: v for k, v in meta.items() if k != "managedFields"}
    if LAST_APPLIED in (meta.get("annotations") or {}):
        meta["annotations"] = {k: v for k, v in meta["annotations"].items()
                               if k != LAST_APPLIED}
    return {**obj, "metadata": meta}


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


def version_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _text(obj: Obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _pack(obj: Obj) -> bytes:
    return zlib.compress(_text(obj), 1)


def _unpack(data: bytes) -> Obj:
    obj: Obj = jsoncost.loads(zlib.decompress(data), hold=True)
    return obj


@dataclass(frozen=True, slots=True)
class _Entry:
    version: str
    uid: str
    summary: Hashable
    data: Obj | bytes

    def obj(self) -> Obj:
        return _unpack(self.data) if isinstance(self.data, bytes) else self.data


class Store:
    """Thread-safe: one writer (the informer's thread), any number of readers."""

    def __init__(self, view: Callable[[Obj], Obj] = without_bookkeeping,
                 is_cold: Callable[[Obj], bool] | None = None,
                 summarize: Callable[[Obj], Hashable] | None = None,
                 keep_deleted: bool = False, clock: Callable[[], float] = time.monotonic,
                 tombstone_ttl: float = TOMBSTONE_TTL,
                 tombstone_max: int = TOMBSTONE_MAX, pack_over: int | None = None) -> None:
        self.view, self.is_cold, self.summarize = view, is_cold, summarize
        self.pack_over = pack_over
        self.keep_deleted, self.clock = keep_deleted, clock
        self.tombstone_ttl, self.tombstone_max = tombstone_ttl, tombstone_max
        self._lock = threading.Lock()
        self._items: dict[Key, _Entry] = {}
        self._deleted: dict[Key, tuple[float, _Entry]] = {}  # insertion order = age

    def _entry(self, obj: Obj) -> _Entry:
        data: Obj | bytes = obj
        if self.is_cold and self.is_cold(obj):
            data = _pack(obj)
        elif self.pack_over is not None:
            text = _text(obj)
            if len(text) > self.pack_over:
                data = zlib.compress(text, 1)
        summary = self.summarize(obj) if self.summarize else None
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        return _Entry(version_of(obj), uid, summary, data)

    # -- writing (the informer) --------------------------------------------------
    def put(self, raw: Obj) -> tuple[Obj, str | None]:
        """Store the object's view; returns the view and the version it replaced
        (None when it is new)."""
        obj = self.view(raw)
        entry = self._entry(obj)
        key = key_of(obj)
        with self._lock:
            old = self._items.get(key)
            self._items[key] = entry
            self._deleted.pop(key, None)
        return obj, (old.version if old else None)

    def delete(self, key: Key, last: Obj | None = None) -> Obj | None:
        """Remove; `last` (the DELETED event's object) or else the cached object
        becomes the tombstone. Returns the last state, None when unknown."""
        with self._lock:
            old = self._items.get(key)
        state = self.view(last) if last is not None else (old.obj() if old else None)
        tombstone = None
        if state is not None and self.keep_deleted:
            tombstone = _Entry(version_of(state), str(state["metadata"].get("uid") or ""),
                               None, _pack(state))
        with self._lock:  # one step: a reader sees the object or its tombstone, never neither
            self._items.pop(key, None)
            if tombstone is not None:
                self._deleted.pop(key, None)
                self._deleted[key] = (self.clock() + self.tombstone_ttl, tombstone)
                self._expire_locked()
        return state

    def _expire_locked(self) -> None:
        now = self.clock()
        while self._deleted:
            key, (expires, _) = next(iter(self._deleted.items()))
            if expires > now and len(self._deleted) <= self.tombstone_max:
                return
            del self._deleted[key]

    # -- reading ------------------------------------------------------------------
    def get(self, namespace: str, name: str) -> Obj | None:
        with self._lock:
            entry = self._items.get((namespace, name))
        return entry.obj() if entry else None

    def deleted(self, namespace: str, name: str) -> Obj | None:
        """The last state of a deleted object of that name, if still kept."""
        with self._lock:
            self._expire_locked()
            found = self._deleted.get((namespace, name))
        return found[1].obj() if found else None

    def forget_deleted(self, namespace: str, name: str, uid: str) -> None:
        """Drop the tombstone once it has served (only that incarnation's)."""
        with self._lock:
            found = self._deleted.get((namespace, name))
            if found and found[1].uid == uid:
                del self._deleted[(namespace, name)]

    def summary(self, namespace: str, name: str) -> Hashable:
        with self._lock:
            entry = self._items.get((namespace, name))
        return entry.summary if entry else None

    def summaries(self) -> list[Hashable]:
        with self._lock:
            return [e.summary for e in self._items.values()]

    def keys(self) -> set[Key]:
        with self._lock:
            return set(self._items)

    def version(self, key: Key) -> str | None:
        with self._lock:
            entry = self._items.get(key)
        return entry.version if entry else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def stats(self) -> dict[str, int]:
        """Entries by form, for the metrics: hot dicts, cold bytes, tombstones."""
        with self._lock:
            cold = sum(isinstance(e.data, bytes) for e in self._items.values())
            return {"hot": len(self._items) - cold, "cold": cold,
                    "deleted": len(self._deleted)}
