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
- connection errors (an apiserver restart) are retried with capped backoff, which
  starts again from its base once a watch has been healthy for `HEALTHY_PERIOD`;
- an object the handler or the cache cannot take (a malformed Workflow a tenant
  wrote, an event line that is not JSON) is logged, counted and skipped: it never
  ends a watch, so one bad object cannot stall what the watch serves (issue 22);
- `is_healthy(window)`: the last sign of life (a page, an opened watch, an event)
  is at most `window` old, which `/healthz` reports;
- `optional`: a resource the cluster may not serve (the reference system's CRDs,
  not installed): a 404 on the list is an empty, synced cache, listed again every
  `ABSENT_RECHECK` seconds, so installing the CRD later is noticed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from compiler import jsoncost
from controller.kube import UNREADABLE, ApiError, GoneError, Kube, NotFoundError, WatchStream
from controller.metrics import Metrics
from controller.store import Store, key_of, version_of
from orchapi.api import Obj, Resource

EventHandler = Callable[[str, Obj], None]
log = logging.getLogger("orch.watch")
DEFAULT_IDLE_TIMEOUT = 90.0
PAGE_SIZE = 100
ABSENT_RECHECK = 30.0
BACKOFF_BASE, BACKOFF_MAX = 0.2, 5.0
HEALTHY_PERIOD = 30.0  # a watch that lasted this long resets the backoff
# The informers of a process list one at a time: a list holds a page and builds
# the views of its objects, and ten lists of a tenant's largest objects at once
# (a restart) must not add up (issue 22).
_ONE_LIST_AT_A_TIME = threading.Lock()


class Informer:
    def __init__(self, kube: Kube, resource: Resource, namespace: str | None,
                 handler: EventHandler, metrics: Metrics | None = None,
                 store: Store | None = None, label_selector: str = "",
                 timeout_range: tuple[int, int] = (240, 480),
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT, page_size: int = PAGE_SIZE,
                 clock: Callable[[], float] = time.monotonic, optional: bool = False) -> None:
        self.kube, self.resource, self.namespace = kube, resource, namespace
        self.handler, self.metrics = handler, metrics
        self.store = store if store is not None else Store()  # (an empty Store is falsy)
        self.label_selector, self.page_size = label_selector, page_size
        self.timeout_range, self.idle_timeout = timeout_range, idle_timeout
        self.clock, self.optional = clock, optional
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
        backoff = BACKOFF_BASE
        while not self._stop.is_set():
            started = self.clock()
            try:
                if not self.resource_version:
                    with _ONE_LIST_AT_A_TIME:
                        self._relist()
                self._watch_once()
                backoff = BACKOFF_BASE
            except GoneError:
                self._restarted("gone")
                self.resource_version = ""
            except Exception as e:  # apiserver down, connection reset, idle timeout, ...
                if isinstance(e, NotFoundError) and self.optional:
                    self._absent()
                    continue
                if self._stop.is_set():
                    break
                self._restarted("error")
                if self.clock() - started >= HEALTHY_PERIOD:
                    backoff = BACKOFF_BASE  # it worked for a while: a new failure, not the same
                log.warning("watch failed; retrying", extra={
                    "resource": self.resource.plural, "namespace": self.namespace or "*",
                    "error": repr(e), "retry_in": round(backoff, 2)})
                self._stop.wait(backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, BACKOFF_MAX)

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    def _restarted(self, reason: str) -> None:
        if self.metrics:
            self.metrics.watch_restarts.labels(self.resource.plural, reason).inc()

    def _absent(self) -> None:
        """The resource is not served here (its CRD is not installed): nothing to
        cache, which is an answer (synced, healthy); ask again later."""
        self._touch()
        for key in list(self.store.keys()):
            last = self.store.delete(key)
            if last is not None:
                self._handle("DELETED", last)
        self.resource_version = ""
        if not self.synced.is_set():
            log.info("resource not served; its cache stays empty", extra={
                "resource": self.resource.plural, "namespace": self.namespace or "*"})
        self.synced.set()
        self._stop.wait(ABSENT_RECHECK)
        self._touch()

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
                key = key_of(raw)
                seen.add(key)  # even when skipped: a bad version is no reason to forget it
                self._take(None, raw)
            del page
            jsoncost.GATE.release_held()  # the page, and what reading the cache took
        for key in before - seen:
            last = self.store.delete(key)
            if last is not None:
                self._handle("DELETED", last)
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
                try:
                    self._apply(event)
                finally:
                    jsoncost.GATE.release_held()  # what the event brought is let go
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
        if kind == UNREADABLE:  # a line the stream could not parse: nothing to store
            self._skipped(raw, str(event.get("error") or ""))
            return
        rv = version_of(raw) if isinstance(raw, dict) else ""
        if rv:
            self.resource_version = rv  # a bad object still moves the watch on
        if kind != "BOOKMARK":
            self._take(str(kind), raw)

    def _take(self, kind: str | None, raw: Any) -> None:
        """Store one object and tell the handler (`kind` None: from a list, which
        says ADDED or MODIFIED by what the cache held). An object that the view,
        the cache or the handler cannot take is logged and skipped: it is a
        tenant's to fix, and must not stop the watch for everyone else."""
        try:
            raw.setdefault("apiVersion", self.resource.api_version)
            raw.setdefault("kind", self.resource.kind)
            if kind == "DELETED":
                obj = self.store.delete(key_of(raw), raw) or raw
            else:
                obj, old_version = self.store.put(raw)
                if kind is None:
                    if old_version == version_of(obj):
                        return
                    kind = "ADDED" if old_version is None else "MODIFIED"
        except Exception as e:
            self._skipped(raw, repr(e))
            return
        self._handle(kind, obj)

    def _handle(self, kind: str, obj: Obj) -> None:
        try:
            self.handler(kind, obj)
        except Exception as e:
            self._skipped(obj, repr(e))

    def _skipped(self, raw: Any, error: str) -> None:
        meta = raw.get("metadata") if isinstance(raw, dict) else None
        name = (f"{meta.get('namespace') or ''}/{meta.get('name')}"
                if isinstance(meta, dict) and meta.get("name") else "?")
        if self.metrics:
            self.metrics.skipped_objects.labels(self.resource.plural).inc()
        log.warning("object skipped: it cannot be read", extra={
            "resource": self.resource.plural, "object": name, "error": error[:300]})
