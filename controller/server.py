"""/healthz, /readyz and /metrics over the standard library's HTTP server.

Why stdlib: three tiny endpoints do not justify a web framework; a threading
server in a daemon thread answers probes even while workers are busy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST


class Endpoints:
    def __init__(self, healthy: Callable[[], bool], ready: Callable[[], bool],
                 metrics: Callable[[], bytes]) -> None:
        self.healthy, self.ready, self.metrics = healthy, ready, metrics


def serve(address: tuple[str, int], endpoints: Endpoints) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._reply(*self._check(endpoints.healthy()))
            elif path == "/readyz":
                self._reply(*self._check(endpoints.ready()))
            elif path == "/metrics":
                self._reply(200, endpoints.metrics(), CONTENT_TYPE_LATEST)
            else:
                self._reply(404, b"not found\n")

        @staticmethod
        def _check(ok: bool) -> tuple[int, bytes]:
            return (200, b"ok\n") if ok else (503, b"not ready\n")

        def _reply(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # probes every few seconds would drown the logs

    server = ThreadingHTTPServer(address, Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"http-{address[1]}",
                     daemon=True).start()
    return server
