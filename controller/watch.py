"""List+watch one resource in one namespace (or all) into a local cache.

Why: reconcilers read from this cache, not the apiserver, so a resync of 1,000
runs costs no requests; and the watch is the only thing that can wake them.
This is client-go's reflector, reduced to what the controller needs:
- list, then watch from the list's resourceVersion with `allowWatchBookmarks`
  (bookmarks advance the resourceVersion so a quiet watch restarts cheaply) and
  a server-side `timeoutSeconds` (randomised, so watches do not restart together);
- a watch that ends is resumed from the last resourceVersion seen; `410 GoneError`
  (the version was compacted) or an ERROR event means relist, and a relist emits
  synthetic events for every difference, so no change is missed across a gap;
- connection errors (an apiserver restart) are retried with capped backoff.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from controller.kube import ApiError, GoneError, Kube, Obj, Resource, WatchStream
from controller.metrics import Metrics

EventHandler = Callable[[str, Obj], None]
log = logging.getLogger("orch.watch")


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Informer:
    def __init__(self, kube: Kube, resource: Resource, namespace: str | None,
                 handler: EventHandler, metrics: Metrics | None = None,
                 timeout_range: tuple[int, int] = (240, 480)) -> None:
        self.kube, self.resource, self.namespace = kube, resource, namespace
        self.handler, self.metrics = handler, metrics
        self.timeout_range = timeout_range
        self.synced = threading.Event()
        self.resource_version = ""
        self._store: dict[tuple[str, str], Obj] = {}
        self._lock = threading.Lock()
        self._stream: WatchStream | None = None
        self._stop = threading.Event()
        self.relists = 0

    # -- the cache -------------------------------------------------------------------
    def get(self, namespace: str, name: str) -> Obj | None:
        with self._lock:
            return self._store.get((namespace, name))

    def items(self) -> list[Obj]:
        with self._lock:
            return list(self._store.values())

    # -- the loop --------------------------------------------------------------------
    def run(self) -> None:
        backoff = 0.2
        where = self.namespace or "*"
        while not self._stop.is_set():
            try:
                if not self.resource_version:
                    self._relist()
                self._watch_once()
                backoff = 0.2
            except GoneError:
                self._restarted("gone")
                self.resource_version = ""
            except Exception as e:  # apiserver down, connection reset, ...
                if self._stop.is_set():
                    break
                self._restarted("error")
                log.warning("watch failed; retrying", extra={
                    "resource": self.resource.plural, "namespace": where,
                    "error": str(e), "retry_in": round(backoff, 2)})
                self._stop.wait(backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, 5.0)

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    def _restarted(self, reason: str) -> None:
        if self.metrics:
            self.metrics.watch_restarts.labels(self.resource.plural, reason).inc()

    def _relist(self) -> None:
        items, rv = self.kube.list(self.resource, self.namespace)
        fresh = {_key(o): o for o in items}
        with self._lock:
            old, self._store = self._store, fresh
        self.relists += 1
        for key, obj in old.items():
            if key not in fresh:
                self.handler("DELETED", obj)
        for key, obj in fresh.items():
            prev = old.get(key)
            if prev is None:
                self.handler("ADDED", obj)
            elif _rv(prev) != _rv(obj):
                self.handler("MODIFIED", obj)
        self.resource_version = rv
        self.synced.set()

    def _watch_once(self) -> None:
        timeout = random.randint(*self.timeout_range)
        stream = self.kube.watch(self.resource, self.namespace, self.resource_version, timeout)
        self._stream = stream
        try:
            for event in stream:
                if self._stop.is_set():
                    return
                self._apply(event)
        finally:
            self._stream = None
            stream.close()

    def _apply(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            code = int(obj.get("code") or 0)
            if code == 410:
                raise GoneError(410, str(obj.get("reason") or "Expired"), str(obj.get("message")))
            raise ApiError(code, str(obj.get("reason") or ""), str(obj.get("message") or ""))
        rv = _rv(obj)
        if kind == "BOOKMARK":
            if rv:
                self.resource_version = rv
            return
        obj.setdefault("apiVersion", self.resource.api_version)
        obj.setdefault("kind", self.resource.kind)
        with self._lock:
            if kind == "DELETED":
                self._store.pop(_key(obj), None)
            else:
                self._store[_key(obj)] = obj
        if rv:
            self.resource_version = rv
        self.handler(str(kind), obj)
