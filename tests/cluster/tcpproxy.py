"""A TCP proxy in front of the apiserver that can stop forwarding.

Why: the failure that hangs a client for good is not a refused connection (that
fails fast) but a connection that stays open and carries nothing: a half-open
TCP connection after a NAT or load balancer drops its state, a peer that
stopped reading. Only a real socket between the controller and the apiserver
can make one; TLS passes through untouched (the proxy sees bytes, not requests),
so the apiserver's certificate for 127.0.0.1 still verifies.

- `stall()`: nothing is forwarded any more, on any connection, new ones
  included (accepted, never connected upstream); `resume()` undoes it.
- `freeze_existing()`: every connection open now carries nothing more, for good;
  connections opened afterwards work.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import yaml


class _Conn:
    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: socket.socket | None = None
        self.frozen = False


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[_Conn] = []

    def start(self) -> TcpProxy:
        threading.Thread(target=self._accept, name="tcpproxy-accept", daemon=True).start()
        return self

    # -- the faults --------------------------------------------------------------
    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def freeze_existing(self) -> int:
        """Freeze every open connection; returns how many."""
        with self._lock:
            for conn in self._conns:
                conn.frozen = True
            return len(self._conns)

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            for s in (conn.client, conn.upstream):
                if s is not None:
                    with contextlib.suppress(OSError):
                        s.close()

    # -- forwarding -----------------------------------------------------------------
    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            conn = _Conn(client)
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._open, args=(conn,), daemon=True).start()

    def _may_forward(self, conn: _Conn) -> bool:
        """Block while forwarding is stopped for `conn`; False once the proxy closed."""
        while not self._closed.is_set():
            if self._flowing.is_set() and not conn.frozen:
                return True
            self._closed.wait(0.05)
        return False

    def _open(self, conn: _Conn) -> None:
        if not self._may_forward(conn):
            return
        try:
            conn.upstream = socket.create_connection(self.target, timeout=10)
            conn.upstream.settimeout(None)
        except OSError:
            with contextlib.suppress(OSError):
                conn.client.close()
            return
        threading.Thread(target=self._pump, args=(conn, conn.client, conn.upstream),
                         daemon=True).start()
        self._pump(conn, conn.upstream, conn.client)

    def _pump(self, conn: _Conn, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data or not self._may_forward(conn):
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)


def proxied_kubeconfig(kubeconfig: Path, proxy: TcpProxy, path: Path) -> Path:
    """`kubeconfig` with its server replaced by the proxy's address."""
    config = yaml.safe_load(kubeconfig.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    path.write_text(yaml.safe_dump(config))
    return path
