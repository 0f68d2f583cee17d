"""A fault-injecting HTTP proxy on 127.0.0.1, in front of the local server: each request takes the next
planned fault (then passes through), so a client's retries meet the network's real failures.

Faults: drop the request (never forwarded), drop the answer (forwarded, the server commits, the client
gets a closed connection) or swallow it (the same, after the client's timeout),
hold the answer (forwarded, answered after `seconds`: past the client's
timeout), or answer by itself (a 503 or 409 problem with Retry-After, never forwarded). Written by hand:
the proxies we know (toxiproxy, mitmproxy) are services of their own, not a test fixture of 100 lines.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

PROBLEM_BASE = "urn:idempotent-payments:problem:"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection", "host"}


@dataclass(frozen=True)
class Fault:
    kind: str  # pass, drop_request, drop_answer, swallow, hold, respond
    seconds: float = 0.0  # hold, swallow: how long the answer is held
    status: int = 0  # respond: the status answered
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


PASS = Fault("pass")
DROP_REQUEST = Fault("drop_request")
DROP_ANSWER = Fault("drop_answer")


def hold(seconds: float) -> Fault:
    return Fault("hold", seconds=seconds)


def swallow(seconds: float) -> Fault:
    """Forwarded, answered by the server, and the answer never sent: the client times out (then closed)."""
    return Fault("swallow", seconds=seconds)


def problem(status: int, slug: str, retry_after: str | None = None) -> Fault:
    """An answer of the proxy's own, shaped as the API's (problem+json, optional Retry-After)."""
    body = json.dumps({"type": PROBLEM_BASE + slug, "title": slug, "status": status, "detail": "injected"}).encode()
    headers = [("Content-Type", "application/problem+json")]
    if retry_after is not None:
        headers.append(("Retry-After", retry_after))
    return Fault("respond", status=status, headers=tuple(headers), body=body)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    fault: str
    upstream_status: int | None  # what the server answered; None when it was never asked
    idempotency_key: str | None


@dataclass
class FaultProxy:
    upstream: str  # e.g. http://127.0.0.1:3000
    on_request: Callable[[Seen], None] | None = None  # called as each request ends (the demo prints it)
    seen: list[Seen] = field(default_factory=list)
    _plan: deque[Fault] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def plan(self, *faults: Fault) -> FaultProxy:
        """Faults for the next requests, in order; requests beyond them pass."""
        with self._lock:
            self._plan.extend(faults)
        return self

    def next_fault(self) -> Fault:
        with self._lock:
            return self._plan.popleft() if self._plan else PASS

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)
        if self.on_request is not None:
            self.on_request(seen)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self, port: int = 0) -> FaultProxy:
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = self.owner.next_fault()
        key = self.headers.get("Idempotency-Key")
        if fault.kind == "drop_request":
            return self._drop(Seen(self.command, self.path, fault.kind, None, key))
        if fault.kind == "respond":
            self.owner.record(Seen(self.command, self.path, fault.kind, None, key))
            return self._answer(fault.status, list(fault.headers), fault.body)
        status, headers, answer = self._forward(body)
        seen = Seen(self.command, self.path, fault.kind, status, key)
        if fault.kind == "drop_answer":
            return self._drop(seen)
        if fault.kind == "swallow":
            self.owner.record(seen)  # known at once: the server has answered
            time.sleep(fault.seconds)
            self.close_connection = True
            return None
        if fault.kind == "hold":
            time.sleep(fault.seconds)
        self.owner.record(seen)
        with contextlib.suppress(OSError):  # the client gave up while the answer was held: that was the point
            self._answer(status, headers, answer)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        target = urlsplit(self.owner.upstream)
        connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port or 80, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(self.command, self.path, body, headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _drop(self, seen: Seen) -> None:
        """Close without a byte of answer: to the client, a request that may or may not have happened."""
        self.close_connection = True
        self.owner.record(seen)

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
