"""A small Kubernetes API client on the standard library (http.client + ssl).

Why a second client (the controller's door is `controller.kube`, over the official
client): cold start. A terminal command pays its imports on every run, the
controller once per process. `python -X importtime -c 'import kubernetes.client'`
costs 0.44 s (cumulative; kubernetes 37.0.3, median of 7 on the 2-core dev machine),
most of the 0.5 s a cold `orch get` may take; `import operate.client` costs 0.08 s,
ssl and http.client included. These commands need a handful of REST calls (get,
list, create, patch, delete and a watch), so they make them here. What the two
clients share is not client code: the resources, their paths and the name checks
(`orchapi.api`), which both import. Objects stay plain dicts, as the apiserver sends
them. Errors become `ApiError` (with the apiserver's own reason and message) or
`Unreachable`, each printed by the CLI as one line.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from operate.kubeconfig import ConfigError, Connection, ExecPlugin
from orchapi.api import Obj

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
# Lists of names and labels only (what `kubectl get` asks for when that is enough):
# a few hundred bytes per object instead of whole pods.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
USER_AGENT = "orch/0.1.0"
REQUEST_TIMEOUT = 30.0


class ApiError(Exception):
    """The apiserver answered with an error Status."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message or reason or f"HTTP {status}")
        self.status, self.reason, self.message = status, reason, message


class NotFoundError(ApiError):
    pass


class ConflictError(ApiError):
    pass


class Unreachable(Exception):  # noqa: N818 (reads as what happened)
    """No answer from the apiserver (refused, DNS, TLS, timeout)."""


class _HTTPSConnection(http.client.HTTPSConnection):
    """Verifies the server as `tls_server_name` when the kubeconfig names one."""

    def __init__(self, host: str, port: int | None, context: ssl.SSLContext,
                 server_name: str | None, timeout: float) -> None:
        super().__init__(host, port, context=context, timeout=timeout)
        self._server_name = server_name
        self._ctx = context

    def connect(self) -> None:
        if self._server_name is None:
            super().connect()
            return
        http.client.HTTPConnection.connect(self)
        self.sock = self._ctx.wrap_socket(self.sock, server_hostname=self._server_name)


class Client:
    """One keep-alive connection for requests; a new one per watch."""

    def __init__(self, conn: Connection, timeout: float = REQUEST_TIMEOUT) -> None:
        self.conn = conn
        self.timeout = timeout
        url = urllib.parse.urlsplit(conn.server)
        self._https = url.scheme == "https"
        self._host, self._port = url.hostname or "", url.port
        self._prefix = url.path.rstrip("/")
        self._ssl: ssl.SSLContext | None = None
        self._auth: list[tuple[str, str]] | None = None
        self._http: http.client.HTTPConnection | None = None
        self._exec_pair: tuple[bytes, bytes] | None = None  # an exec plugin's certificate

    @property
    def namespace(self) -> str:
        return self.conn.namespace

    # -- requests ------------------------------------------------------------------
    def request(self, method: str, path: str, query: Mapping[str, str] | None = None,
                body: Any = None, content_type: str = JSON, accept: str = JSON) -> Obj:
        target = self._target(path, query)
        data = None if body is None else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        headers = {"Accept": accept, "User-Agent": USER_AGENT, **dict(self._headers())}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, target, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()  # an idle keep-alive connection the server closed: once more
                if attempt == 2 or method not in ("GET", "HEAD"):
                    raise Unreachable(f"{self.conn.server}: the connection was closed") from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise Unreachable(_reach_error(self.conn.server, exc)) from None
        if response.status >= 400:
            raise _api_error(response.status, raw)
        out: Obj = json.loads(raw) if raw else {}
        return out

    def get(self, path: str, query: Mapping[str, str] | None = None) -> Obj:
        return self.request("GET", path, query)

    def get_or_none(self, path: str) -> Obj | None:
        try:
            return self.get(path)
        except NotFoundError:
            return None

    def watch(self, path: str, query: Mapping[str, str]) -> WatchStream:
        """A watch on its own connection: one event (a dict) per line of the body."""
        conn = self._new_connection(timeout=None)  # the server's timeoutSeconds ends it
        headers = {"Accept": JSON, "User-Agent": USER_AGENT, **dict(self._headers())}
        try:
            conn.request("GET", self._target(path, {**query, "watch": "1"}), headers=headers)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise Unreachable(_reach_error(self.conn.server, exc)) from None
        if response.status >= 400:
            raw = response.read()
            conn.close()
            raise _api_error(response.status, raw)
        return WatchStream(conn, response)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- plumbing ------------------------------------------------------------------
    def _target(self, path: str, query: Mapping[str, str] | None) -> str:
        target = self._prefix + path
        if query:
            target += "?" + urllib.parse.urlencode(query)
        return target

    def _connection(self) -> http.client.HTTPConnection:
        if self._http is None:
            self._http = self._new_connection(self.timeout)
        return self._http

    def _new_connection(self, timeout: float | None) -> http.client.HTTPConnection:
        self._headers()  # an exec plugin may hand out the client certificate
        if not self._https:
            return http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        if self._ssl is None:
            self._ssl = self._context()
        return _HTTPSConnection(self._host, self._port, self._ssl, self.conn.tls_server_name,
                                timeout)  # type: ignore[arg-type]

    def _context(self) -> ssl.SSLContext:
        c = self.conn
        try:
            if c.insecure:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif c.ca_data or c.ca_file:
                ctx = ssl.create_default_context(
                    cafile=str(c.ca_file) if c.ca_file and not c.ca_data else None,
                    cadata=c.ca_data.decode() if c.ca_data else None)
            else:
                ctx = ssl.create_default_context()
            cert, key = self._client_pair()
            if cert is not None:
                _load_pair(ctx, cert, key)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConfigError(f'context "{c.context}": cannot load its certificates: '
                              f"{exc}") from None
        return ctx

    def _client_pair(self) -> tuple[bytes | Path | None, bytes | Path | None]:
        c = self.conn
        cert: bytes | Path | None = c.cert_data or c.cert_file
        key: bytes | Path | None = c.key_data or c.key_file
        if self._exec_pair is not None:
            cert, key = self._exec_pair
        return cert, key

    def _headers(self) -> list[tuple[str, str]]:
        if self._auth is None:
            c = self.conn
            auth: list[tuple[str, str]] = list(c.impersonate)
            token = c.token
            if token is None and c.token_file is not None:
                try:
                    token = c.token_file.read_text().strip()
                except OSError as exc:
                    raise ConfigError(f"tokenFile {c.token_file}: {exc.strerror}") from None
            if token is None and c.exec_plugin is not None:
                credential = run_exec_plugin(c.exec_plugin, c.server)
                token = credential.get("token")
                if credential.get("clientCertificateData"):
                    self._exec_pair = (credential["clientCertificateData"].encode(),
                                       str(credential.get("clientKeyData", "")).encode())
            if token:
                auth.append(("Authorization", f"Bearer {token}"))
            elif c.username is not None:
                basic = base64.b64encode(f"{c.username}:{c.password or ''}".encode()).decode()
                auth.append(("Authorization", f"Basic {basic}"))
            self._auth = auth
        return self._auth


class WatchStream:
    """The events of one watch request; iterate, then `close()` (from any thread)."""

    def __init__(self, conn: http.client.HTTPConnection,
                 response: http.client.HTTPResponse) -> None:
        self._conn, self._response = conn, response

    def __iter__(self) -> Iterator[Obj]:
        while True:
            try:
                line = self._response.readline()
            except (OSError, http.client.HTTPException, ValueError):
                return  # closed (by us or the server): the caller watches again
            if not line:
                return
            if line.strip():
                yield json.loads(line)

    def close(self) -> None:
        sock = self._conn.sock
        try:
            if sock is not None:
                import socket

                sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked in another thread
        except OSError:
            pass
        self._conn.close()


def _load_pair(ctx: ssl.SSLContext, cert: bytes | Path, key: bytes | Path | None) -> None:
    """ssl reads a client certificate only from files: PEM data goes through a
    private temporary file that is removed at once."""
    paths: list[str] = []
    try:
        for item in (cert, key):
            if isinstance(item, bytes):
                fd, name = tempfile.mkstemp(prefix="orch-cred-")
                with os.fdopen(fd, "wb") as fh:
                    fh.write(item)
                paths.append(name)
            else:
                paths.append(str(item) if item is not None else "")
        ctx.load_cert_chain(paths[0], paths[1] or None)
    finally:
        for item, name in zip((cert, key), paths, strict=False):
            if isinstance(item, bytes):
                os.unlink(name)


def run_exec_plugin(plugin: ExecPlugin, server: str) -> Obj:
    """Run an exec credential plugin as client-go does and return its `status`."""
    interactive = plugin.interactive_mode != "Never" and sys.stdin.isatty()
    if plugin.interactive_mode == "Always" and not sys.stdin.isatty():
        raise ConfigError(f"exec plugin {plugin.command} needs an interactive terminal")
    spec: Obj = {"interactive": interactive}
    if plugin.provide_cluster_info:
        spec["cluster"] = {"server": server}
    info = {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec}
    command = plugin.command
    if os.sep in command and not os.path.isabs(command):
        command = str(plugin.base_dir / command)
    env = {**os.environ, **dict(plugin.env), "KUBERNETES_EXEC_INFO": json.dumps(info)}
    try:
        done = subprocess.run([command, *plugin.args], env=env, stdout=subprocess.PIPE,
                              stdin=None if interactive else subprocess.DEVNULL, check=False)
    except OSError as exc:
        hint = f" ({plugin.install_hint.strip()})" if plugin.install_hint else ""
        raise ConfigError(f"exec plugin {plugin.command}: {exc.strerror}{hint}") from None
    if done.returncode != 0:
        raise ConfigError(f"exec plugin {plugin.command} exited {done.returncode}")
    try:
        credential = json.loads(done.stdout)
        status: Obj = credential["status"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"exec plugin {plugin.command} did not print an ExecCredential "
                          "with a status") from None
    if not status.get("token") and not status.get("clientCertificateData"):
        raise ConfigError(f"exec plugin {plugin.command} returned neither a token nor a "
                          "client certificate")
    return status


def _api_error(status: int, raw: bytes) -> ApiError:
    reason, message = "", raw.decode(errors="replace").strip()
    try:
        body = json.loads(raw)
        if isinstance(body, dict):
            reason, message = str(body.get("reason") or ""), str(body.get("message") or "")
    except ValueError:
        pass
    if status == 404:
        return NotFoundError(status, reason or "NotFound", message)
    if status == 409:
        return ConflictError(status, reason or "Conflict", message)
    return ApiError(status, reason, message)


def _reach_error(server: str, exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"{server}: TLS verification failed: {exc.verify_message}"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"cannot reach {server}: {text}"
