"""A threaded HTTP server on loopback, started and stopped from code, and a request handler
base with the few helpers the API emulator and the SES simulator share."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("mailroom_dev.local")

LOOPBACK = "127.0.0.1"


class BodyTooLarge(Exception):
    pass


class LoopbackServer:
    """Serves `handler_class` on 127.0.0.1:`port` (0 picks a free port) in a daemon thread.
    Handlers reach the owning object as `self.server.app`."""

    def __init__(self, handler_class: type[BaseHTTPRequestHandler], port: int, app: Any) -> None:
        self._httpd = ThreadingHTTPServer((LOOPBACK, port), handler_class)
        self._httpd.daemon_threads = True
        self._httpd.app = app  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"http-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()


class Served:
    """What an emulator serving through a LoopbackServer (`self._server`) offers its
    owner: where it listens, and starting and stopping it."""

    _server: LoopbackServer

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


class JsonRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mailroom-local"
    sys_version = ""
    # Headers and body go out in two writes: with Nagle on, the body waits for the
    # client's delayed ACK of the headers, 40 ms on Linux loopback, on every response.
    disable_nagle_algorithm = True

    def read_body(self, limit: int) -> bytes:
        """The request body, whether sent with Content-Length or chunked; BodyTooLarge
        beyond `limit` bytes (checked before reading when the length is announced)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            raise BodyTooLarge
        return self.rfile.read(length) if length else b""

    def discard_body(self) -> None:
        """Read and drop what is left of an announced body, so a client that is still
        sending gets the error response instead of a reset connection."""
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        self.close_connection = True

    def _read_chunked(self, limit: int) -> bytes:
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline()
            if len(body) > limit:
                raise BodyTooLarge

    def send_body(
        self,
        status: int,
        body: bytes,
        headers: list[tuple[str, str]] | None = None,
        content_type: str | None = "application/json",
    ) -> None:
        self.send_response(status)
        sent = {name.lower() for name, _ in headers or []}
        if content_type and "content-type" not in sent:
            self.send_header("Content-Type", content_type)
        for name, value in headers or []:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(
        self, status: int, payload: Any, headers: list[tuple[str, str]] | None = None
    ) -> None:
        self.send_body(status, json.dumps(payload).encode(), headers)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)
