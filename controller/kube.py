"""The controller's only door to the Kubernetes API (the only importer of `kubernetes`).

Why one module: every call is counted (`rest_client_requests_total`, which the
benchmark turns into requests per run), every call has a timeout (a half-open
connection must never hang a worker or the Lease renewal for good), every write
passes the leader fence (a replica that lost its Lease sends no more writes),
every error is translated into this module's own types (`NotFoundError`,
`ConflictError`, `AlreadyExistsError`, `GoneError`, `FencedError`), and the rest
of the controller handles plain dicts, so it can be read and tested without the
client's generated models. Threads, not asyncio: the official client is
synchronous (its asyncio twin is a separate package with a different API), and a
controller's work is a handful of blocking HTTP calls per reconcile.

Bodies are read here, not by the client, and parsed within the process's parse
budget (`compiler.jsoncost`): a tenant's object at the apiserver's size limit can
be 25x larger as Python objects, and many arriving together must not add up
(issue 22). A list page whose body grows past `PAGE_BYTES` is dropped unread and
asked for again in smaller pages, down to one object a page.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from compiler import jsoncost
from controller.metrics import Metrics
from orchapi.api import (
    Obj,
    Resource,
)
from orchapi.names import DNS_SUBDOMAIN_NAME, NAMESPACE

T = TypeVar("T")
log = logging.getLogger("orch.kube")
DEFAULT_REQUEST_TIMEOUT = 30.0
CONFLICT_ATTEMPTS = 5
PAGE_BYTES = 2 * 1024 * 1024  # a list page's body, at most; past it, smaller pages
_READ_CHUNK = 256 * 1024


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


class NotFoundError(ApiError):
    pass


class AlreadyExistsError(ApiError):
    pass


class ConflictError(ApiError):
    """409 on an update: the object changed since it was read."""


class GoneError(ApiError):
    """410: the resourceVersion is too old (compacted); relist."""


class FencedError(Exception):
    """A write refused locally: this replica does not hold the Lease (any more)."""


def is_object_name(namespace: str, name: str) -> bool:
    """Both are names a namespaced custom object can have (the apiserver holds a
    custom resource's name to a DNS subdomain)."""
    return NAMESPACE.problem(namespace) is None and DNS_SUBDOMAIN_NAME.problem(name) is None


def retry_on_conflict(attempt: Callable[[int], T], attempts: int = CONFLICT_ATTEMPTS,
                      delay: float = 0.01) -> T:
    """`attempt(n)` until it does not raise `ConflictError` (client-go's
    `retry.RetryOnConflict`): `n` is 0 first, then 1, 2, ...; an attempt after the
    first must read the object live, since the copy it had is stale."""
    for n in range(attempts):
        try:
            return attempt(n)
        except ConflictError:
            if n == attempts - 1:
                raise
            log.info("conflict; retrying with a fresh read", extra={"attempt": n + 1})
            time.sleep(delay * (n + 1))
    raise AssertionError("unreachable")


def _translate(e: ApiException) -> ApiError:
    status = int(e.status or 0)
    reason, message = str(e.reason or ""), ""
    try:
        body = json.loads(e.body or "{}")
        reason, message = body.get("reason") or reason, body.get("message") or ""
    except (ValueError, TypeError):
        message = str(e.body or "")
    if status == 404:
        return NotFoundError(status, reason, message)
    if status == 409:
        # metav1.StatusReasonAlreadyExists; any other 409 is a version conflict.
        cls = AlreadyExistsError if reason == "AlreadyExists" else ConflictError
        return cls(status, reason, message)
    if status == 410:
        return GoneError(status, reason, message)
    return ApiError(status, reason, message)


ApiClient = client.ApiClient  # for the wiring's type hints (only this module imports the client)


class ClusterConfigError(Exception):
    """The kubeconfig (or the pod's in-cluster configuration) cannot be used: the
    client's own words, for one line and exit 2 instead of its traceback."""


def load_api_client(kubeconfig: str | None, in_cluster: bool, pool: int = 16) -> client.ApiClient:
    cfg = client.Configuration()
    try:
        if in_cluster:
            config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        else:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, client_configuration=cfg)
    except yaml.YAMLError as e:
        raise ClusterConfigError(f"not YAML: {' '.join(str(e).split())}") from None
    except (config.ConfigException, OSError, ValueError, TypeError, AttributeError) as e:
        # The client raises ConfigException for what it checks, and plain Python
        # errors for shapes it does not (a context that is a string, ...).
        raise ClusterConfigError(" ".join(str(e).split()) or type(e).__name__) from None
    cfg.connection_pool_maxsize = pool
    # A request that timed out is never replayed by urllib3 (its default retries a
    # read error 3 times, which would turn one timeout into four); setting up a
    # connection is retried once. Everything else is the caller's backoff.
    cfg.retries = urllib3.Retry(total=1, connect=1, read=0, status=0, redirect=0, other=0)
    return client.ApiClient(cfg)


# The type of a watch event whose line could not be parsed (not JSON, nested deeper
# than Python's parser goes): the informer logs and skips it.
UNREADABLE = "UNREADABLE"


class PageTooLargeError(Exception):
    """A list page's body passed `PAGE_BYTES`: it was not read to the end."""


def read_body(response: Any, limit: int | None = None) -> bytes:
    """The body of a response the client did not read (`_preload_content=False`),
    at most `limit` bytes (more: PageTooLargeError, the connection dropped)."""
    body = bytearray()  # grown in place: no second copy of a large body
    try:
        for chunk in response.stream(_READ_CHUNK, decode_content=True):
            body += chunk
            if limit is not None and len(body) > limit:
                response.close()  # unread bytes left: the connection cannot be reused
                raise PageTooLargeError(f"more than {limit} bytes")
    finally:
        response.release_conn()
    return body  # type: ignore[return-value]  # bytes-like: json and the counts take it


def parse_body(data: bytes) -> Any:
    """The body parsed, its cost held by this thread until `jsoncost.GATE.
    release_held()` (a worker after its reconcile, a watch after the event)."""
    return jsoncost.loads(data, hold=True)


def parse_event(line: bytes, hold: bool = True) -> Obj:
    """One watch event line as a dict; a line that is not a JSON object is an
    `UNREADABLE` event carrying the error, never an exception that ends the watch.
    (`hold`: its cost is held by the thread; else the caller accounts for it.)"""
    try:
        event = jsoncost.loads(line, hold=True) if hold else json.loads(line)
    except (ValueError, RecursionError, MemoryError) as e:
        return {"type": UNREADABLE, "object": {}, "error": f"{type(e).__name__}: {e}"[:300]}
    if not isinstance(event, dict):
        return {"type": UNREADABLE, "object": {}, "error": "not a JSON object"}
    return event


def _held(line: bytes) -> Iterator[Obj]:
    taken = jsoncost.GATE.take(jsoncost.estimated_cost(line))
    try:
        event = parse_event(line, hold=False)
        del line
        yield event
    finally:
        jsoncost.GATE.give(taken)


_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]]')


def list_meta(data: bytes) -> Obj:
    """The `metadata` of a list body that json cannot parse (an item nested deeper
    than Python's parser goes): found by the list's top-level key, whatever the
    items hold, so its continue token is not lost. {} when it is not there."""
    depth, key, start = 0, b"", -1
    for m in _TOKEN.finditer(data):
        token = m.group()
        if token[:1] == b'"':
            if depth == 1:
                key = token
            continue
        if token in (b"{", b"["):
            depth += 1
            if depth == 2 and key == b'"metadata"' and token == b"{":
                start = m.start()
        else:
            depth -= 1
            if depth == 1 and start >= 0:
                found = json.loads(data[start:m.end()])
                return {"metadata": found} if isinstance(found, dict) else {}
            if depth == 1:
                key = b""
    return {}


class WatchStream:
    """One watch request's events as dicts; `close()` ends it from another thread."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def __iter__(self) -> Iterator[Obj]:
        """Each event, its cost held until the consumer asks for the next one."""
        parts: list[bytes] = []  # the line so far, in pieces (a long line is not re-copied)
        for chunk in self._response.stream(amt=None, decode_content=True):
            while chunk:
                head, newline, chunk = chunk.partition(b"\n")
                parts.append(head)
                if not newline:
                    break
                line = b"".join(parts)
                parts = []
                if line.strip():
                    yield from _held(line)
        line = b"".join(parts)
        if line.strip():
            yield from _held(line)

    def close(self) -> None:
        """Ends a read blocked in another thread at once (urllib3's `shutdown`),
        instead of waiting for the next event or bookmark to arrive."""
        try:
            shutdown = getattr(self._response, "shutdown", None)
            if shutdown is not None:
                shutdown()
            self._response.close()
            self._response.release_conn()
        except Exception:  # closing a dead connection is best effort
            pass


class Kube:
    """Typed-enough access to the few API calls the controller makes.

    `request_timeout` bounds every call but a watch (whose idle time is bounded by
    `watch`'s own argument); `fence`, when set, must be true for a write to be sent.
    """

    def __init__(self, api: client.ApiClient, metrics: Metrics | None = None,
                 request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
                 fence: Callable[[], bool] | None = None) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.coordination = client.CoordinationV1Api(api)
        self.metrics = metrics
        self.request_timeout = request_timeout
        self.fence = fence

    def _check_fence(self, what: str) -> None:
        if self.fence is not None and not self.fence():
            raise FencedError(f"not the leader: {what} not sent")

    def _call(self, method: str, fn: Callable[[], Any]) -> Any:
        code = "200"
        try:
            return fn()
        except ApiException as e:
            code = str(e.status or "<error>")
            raise _translate(e) from None
        except Exception:
            code = "<error>"
            raise
        finally:
            if self.metrics:
                self.metrics.api_requests.labels(code, method).inc()

    # -- custom resources ----------------------------------------------------------
    def list_pages(self, res: Resource, namespace: str | None, label_selector: str = "",
                   limit: int = 100, field_selector: str = "",
                   page_bytes: int = PAGE_BYTES
                   ) -> Iterator[tuple[list[Obj], str]]:
        """The objects in pages of at most `limit` (one consistent snapshot; a page
        is let go before the next is read, so memory holds one page, not the whole
        list), each with the list's resourceVersion (to start a watch from). A page
        whose body passes `page_bytes`, or whose objects would cost more than the
        parse budget, is asked for again with a quarter of the limit (the continue
        token stays valid), down to one object; the pages after grow back by
        doubling."""
        token = ""
        size = limit
        narrow = 0  # pages still read one object at a time (after one failed to parse)
        while True:
            kwargs: dict[str, Any] = {"limit": size, "_request_timeout": self.request_timeout,
                                      "_preload_content": False}
            if label_selector:
                kwargs["label_selector"] = label_selector
            if field_selector:
                kwargs["field_selector"] = field_selector
            if token:
                kwargs["_continue"] = token

            def call(kwargs: dict[str, Any] = kwargs, cap: int | None = (
                    page_bytes if size > 1 else None)) -> Any:
                if namespace is None:
                    response = self.custom.list_cluster_custom_object(
                        res.group, res.version, res.plural, **kwargs)
                else:
                    response = self.custom.list_namespaced_custom_object(
                        res.group, res.version, namespace, res.plural, **kwargs)
                return read_body(response, cap)
            try:
                data = self._call("LIST", call)
                cost = jsoncost.estimated_cost(data)
                if size > 1 and cost > jsoncost.GATE.capacity:
                    raise PageTooLargeError(f"its objects would cost about {cost >> 20} MiB")
            except PageTooLargeError as e:
                size = max(1, size // 4)
                log.info("list page too large; asking for smaller pages", extra={
                    "resource": res.plural, "limit": size, "why": str(e)})
                continue
            taken = jsoncost.GATE.take(cost)  # given back once the page is let go
            try:
                body = json.loads(data)
            except (ValueError, RecursionError) as e:
                jsoncost.GATE.give(taken)
                taken = 0
                if size > 1:  # find the one object Python cannot read
                    narrow, size = size, 1
                    continue
                # One object Python cannot parse (nested deeper than its parser
                # goes): skipped, the list goes on from the page's continue token.
                body = {**list_meta(data), "items": []}
                log.warning("object skipped: it cannot be read", extra={
                    "resource": res.plural, "error": f"{type(e).__name__}: {e}"[:300]})
            del data
            items = body.get("items") or []
            for item in items:
                item.setdefault("apiVersion", res.api_version)
                item.setdefault("kind", res.kind)
            meta = body.get("metadata") or {}
            del body
            yield items, str(meta.get("resourceVersion") or "")
            del items
            jsoncost.GATE.give(taken)
            token = meta.get("continue") or ""
            if not token:
                return
            narrow = max(0, narrow - 1)
            # After a page had to be made smaller, the next ones grow back a step at a
            # time (a namespace of large objects is not asked for whole each page).
            size = 1 if narrow else min(limit, size * 2)

    def watch(self, res: Resource, namespace: str | None, resource_version: str,
              timeout_seconds: int, idle_timeout: float, label_selector: str = "") -> WatchStream:
        """`timeout_seconds`: the server ends the watch then; `idle_timeout`: no byte
        for that long (the apiserver sends a bookmark about every minute) ends it
        here, which is how a half-open connection is noticed."""
        kwargs: dict[str, Any] = {
            "watch": True, "allow_watch_bookmarks": True,
            "resource_version": resource_version, "timeout_seconds": timeout_seconds,
            "_preload_content": False,
            "_request_timeout": (min(self.request_timeout, idle_timeout), idle_timeout),
        }
        if label_selector:
            kwargs["label_selector"] = label_selector

        def call() -> Any:
            if namespace is None:
                return self.custom.list_cluster_custom_object(res.group, res.version,
                                                              res.plural, **kwargs)
            return self.custom.list_namespaced_custom_object(res.group, res.version,
                                                             namespace, res.plural, **kwargs)
        return WatchStream(self._call("WATCH", call))

    def get(self, res: Resource, namespace: str, name: str) -> Obj | None:
        """The object; None when it does not exist, or could not (a malformed name is
        never sent: it would address something else)."""
        if not is_object_name(namespace, name):
            return None
        try:
            data = self._call("GET", lambda: read_body(self.custom.get_namespaced_custom_object(
                res.group, res.version, namespace, res.plural, name,
                _request_timeout=self.request_timeout, _preload_content=False)))
        except NotFoundError:
            return None
        obj: Obj = parse_body(data)
        return obj

    def create(self, res: Resource, namespace: str, body: Obj) -> Obj:
        self._check_fence(f"create {res.plural}")
        obj: Obj = self._call("POST", lambda: self.custom.create_namespaced_custom_object(
            res.group, res.version, namespace, res.plural, body,
            _request_timeout=self.request_timeout))
        return obj

    def delete(self, res: Resource, namespace: str, name: str, uid: str | None = None,
               resource_version: str | None = None, propagation: str = "Background") -> bool:
        """Delete; with `uid` (and `resource_version`), only that incarnation (as last
        read). False when it was already gone."""
        body: Obj = {"propagationPolicy": propagation}
        preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version))
                         if v}
        if preconditions:
            body["preconditions"] = preconditions
        res.path(namespace, name)  # refused before any request
        self._check_fence(f"delete {res.plural}")
        try:
            self._call("DELETE", lambda: self.custom.delete_namespaced_custom_object(
                res.group, res.version, namespace, res.plural, name, body=body,  # type: ignore[arg-type]
                _request_timeout=self.request_timeout))
        except NotFoundError:
            return False
        return True

    def replace(self, res: Resource, namespace: str, name: str, body: Obj) -> Obj:
        """PUT the whole object (a Workflow: Argo's CRD has no status subresource, so
        `argo resume` writes a node this way); `body` carries metadata.resourceVersion,
        so a concurrent change is a `ConflictError`."""
        res.path(namespace, name)  # refused before any request
        self._check_fence(f"update {res.plural}")
        replaced: Obj = self._call("PUT", lambda: self.custom.replace_namespaced_custom_object(
            res.group, res.version, namespace, res.plural, name, body,
            _request_timeout=self.request_timeout))
        return replaced

    def patch(self, res: Resource, namespace: str, name: str, body: Obj) -> Obj | None:
        """A JSON merge patch (RFC 7386) of the object; None when it is gone."""
        res.path(namespace, name)  # refused before any request
        self._check_fence(f"patch {res.plural}")
        try:
            obj: Obj = self._call("PATCH", lambda: self.custom.patch_namespaced_custom_object(
                res.group, res.version, namespace, res.plural, name, body,
                _content_type="application/merge-patch+json",
                _request_timeout=self.request_timeout))
        except NotFoundError:
            return None
        return obj

    def replace_status(self, res: Resource, namespace: str, name: str, body: Obj) -> Obj:
        """PUT the status subresource; `body` carries metadata.resourceVersion, so a
        concurrent change is a `ConflictError`, never a lost update. The answer (the
        whole object) is parsed within the parse budget."""
        res.path(namespace, name)  # refused before any request
        self._check_fence(f"update {res.plural}/status")
        data = self._call("PUT", lambda: read_body(
            self.custom.replace_namespaced_custom_object_status(
                res.group, res.version, namespace, res.plural, name, body,
                _request_timeout=self.request_timeout, _preload_content=False)))
        obj: Obj = parse_body(data)
        return obj

    # -- the seal key (controller.sealkey) --------------------------------------------
    def get_secret(self, namespace: str, name: str) -> Obj | None:
        try:
            secret = self._call("GET", lambda: self.core.read_namespaced_secret(
                name, namespace, _request_timeout=self.request_timeout))
        except NotFoundError:
            return None
        out: Obj = self.api.sanitize_for_serialization(secret)  # type: ignore[no-untyped-call]
        return out

    def create_secret(self, namespace: str, body: Obj) -> Obj:
        """Not fenced: the key is made before the Lease is sought (any replica may)."""
        secret = self._call("POST", lambda: self.core.create_namespaced_secret(
            namespace, body, _request_timeout=self.request_timeout))  # type: ignore[arg-type]
        out: Obj = self.api.sanitize_for_serialization(secret)  # type: ignore[no-untyped-call]
        return out

    def config_map_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """A ConfigMap's data (Argo's controller configuration), None when absent."""
        try:
            found = self._call("GET", lambda: self.core.read_namespaced_config_map(
                name, namespace, _request_timeout=self.request_timeout))
        except NotFoundError:
            return None
        return dict(found.data or {})

    # -- events and leases -----------------------------------------------------------
    def create_event(self, namespace: str, body: Obj) -> None:
        self._check_fence("create events")
        self._call("POST", lambda: self.core.create_namespaced_event(
            namespace, body, _request_timeout=self.request_timeout))  # type: ignore[arg-type]

    # Lease calls take their own timeout: the elector bounds each by what is left of
    # its renew deadline (client-go's renew loop runs under a context with that
    # deadline). They are never fenced: they are how the fence is decided.
    def get_lease(self, namespace: str, name: str, timeout: float) -> Obj | None:
        try:
            lease = self._call("GET", lambda: self.coordination.read_namespaced_lease(
                name, namespace, _request_timeout=timeout))
        except NotFoundError:
            return None
        out: Obj = self.api.sanitize_for_serialization(lease)  # type: ignore[no-untyped-call]
        return out

    def create_lease(self, namespace: str, body: Obj, timeout: float) -> Obj:
        lease = self._call("POST", lambda: self.coordination.create_namespaced_lease(
            namespace, body, _request_timeout=timeout))  # type: ignore[arg-type]
        out: Obj = self.api.sanitize_for_serialization(lease)  # type: ignore[no-untyped-call]
        return out

    def replace_lease(self, namespace: str, name: str, body: Obj, timeout: float) -> Obj:
        lease = self._call("PUT", lambda: self.coordination.replace_namespaced_lease(
            name, namespace, body, _request_timeout=timeout))  # type: ignore[arg-type]
        out: Obj = self.api.sanitize_for_serialization(lease)  # type: ignore[no-untyped-call]
        return out

    def close(self) -> None:
        """Close the connection pool (at shutdown, once nothing uses it)."""
        self.api.close()  # type: ignore[no-untyped-call]
