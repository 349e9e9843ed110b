"""List+watch one resource in one namespace (or all) into a local cache.

Why: reconcilers read from this cache, not the apiserver, so a resync of 1,000
runs costs no requests; and the watch is the only thing that can wake them.
This is client-go's reflector, reduced to what the controller needs:
- a paged list (one page in memory at a time, each object cut to its view and
  stored as it arrives: `controller.store`), optionally narrowed by a label
  selector, then a watch from the list's resourceVersion with
  `allowWatchBookmarks` and a server-side `timeoutSeconds` (randomised, so
  watches do not restart together);
- a watch that ends is resumed from the last resourceVersion seen; `410 GoneError`
  (the version was compacted) or an ERROR event means relist, and a relist emits
  synthetic events for every difference, so no change is missed across a gap;
- no byte for `idle_timeout` ends the watch (the apiserver sends a bookmark about
  once a minute), which is how a half-open connection is noticed;
- connection errors (an apiserver restart) are retried with capped backoff;
- `is_healthy(window)`: the last sign of life (a page, an opened watch, an event)
  is at most `window` old, which `/healthz` reports.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from controller.kube import ApiError, GoneError, Kube, Obj, Resource, WatchStream
from controller.metrics import Metrics
from controller.store import Store, key_of, version_of

EventHandler = Callable[[str, Obj], None]
log = logging.getLogger("orch.watch")
DEFAULT_IDLE_TIMEOUT = 90.0
PAGE_SIZE = 100


class Informer:
    def __init__(self, kube: Kube, resource: Resource, namespace: str | None,
                 handler: EventHandler, metrics: Metrics | None = None,
                 store: Store | None = None, label_selector: str = "",
                 timeout_range: tuple[int, int] = (240, 480),
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT, page_size: int = PAGE_SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kube, self.resource, self.namespace = kube, resource, namespace
        self.handler, self.metrics = handler, metrics
        self.store = store if store is not None else Store()  # (an empty Store is falsy)
        self.label_selector, self.page_size = label_selector, page_size
        self.timeout_range, self.idle_timeout = timeout_range, idle_timeout
        self.clock = clock
        self.synced = threading.Event()
        self.resource_version = ""
        self.relists = 0
        self._contact = clock()
        self._stream: WatchStream | None = None
        self._stop = threading.Event()

    # -- the cache -------------------------------------------------------------------
    def get(self, namespace: str, name: str) -> Obj | None:
        return self.store.get(namespace, name)

    # -- health ----------------------------------------------------------------------
    def _touch(self) -> None:
        self._contact = self.clock()

    def is_healthy(self, window: float) -> bool:
        """Heard from the apiserver within `window` seconds (a quiet watch still
        hears a bookmark a minute, or re-opens at `idle_timeout`)."""
        return self.clock() - self._contact <= window

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
            except Exception as e:  # apiserver down, connection reset, idle timeout, ...
                if self._stop.is_set():
                    break
                self._restarted("error")
                log.warning("watch failed; retrying", extra={
                    "resource": self.resource.plural, "namespace": where,
                    "error": repr(e), "retry_in": round(backoff, 2)})
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
        """Page through the list, storing each object as it arrives; then drop
        what the list no longer has. Events: ADDED / MODIFIED per difference,
        DELETED (with the last state) for what is gone."""
        before = self.store.keys()
        seen: set[tuple[str, str]] = set()
        rv = ""
        for page, page_rv in self.kube.list_pages(self.resource, self.namespace,
                                                  self.label_selector, self.page_size):
            self._touch()
            rv = page_rv
            for raw in page:
                obj, old_version = self.store.put(raw)
                key = key_of(obj)
                seen.add(key)
                if old_version is None:
                    self.handler("ADDED", obj)
                elif old_version != version_of(obj):
                    self.handler("MODIFIED", obj)
            del page
        for key in before - seen:
            last = self.store.delete(key)
            if last is not None:
                self.handler("DELETED", last)
        self.relists += 1
        self.resource_version = rv
        self.synced.set()

    def _watch_once(self) -> None:
        timeout = random.randint(*self.timeout_range)
        stream = self.kube.watch(self.resource, self.namespace, self.resource_version,
                                 timeout, self.idle_timeout, self.label_selector)
        self._touch()
        self._stream = stream
        try:
            for event in stream:
                self._touch()
                if self._stop.is_set():
                    return
                self._apply(event)
        finally:
            self._stream = None
            stream.close()

    def _apply(self, event: dict[str, Any]) -> None:
        kind, raw = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            code = int(raw.get("code") or 0)
            if code == 410:
                raise GoneError(410, str(raw.get("reason") or "Expired"), str(raw.get("message")))
            raise ApiError(code, str(raw.get("reason") or ""), str(raw.get("message") or ""))
        rv = version_of(raw)
        if kind == "BOOKMARK":
            if rv:
                self.resource_version = rv
            return
        raw.setdefault("apiVersion", self.resource.api_version)
        raw.setdefault("kind", self.resource.kind)
        if kind == "DELETED":
            obj = self.store.delete(key_of(raw), raw) or raw
        else:
            obj, _ = self.store.put(raw)
        if rv:
            self.resource_version = rv
        self.handler(str(kind), obj)
