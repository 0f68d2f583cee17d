"""A tiny HTTP client (standard library only) that signs, times out, and remembers every answer."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

from .signing import Authenticator
from .target import Target

USER_AGENT = "idempotency-check/0.1"


class TransportError(Exception):
    """No HTTP answer (timeout, reset, TLS failure...): evidence against the endpoint, not a usage error."""


class Unreachable(TransportError):
    """Nothing listens there or the name does not resolve: the run cannot go on (exit 2)."""


@dataclass(frozen=True)
class Response:
    method: str
    path: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def replayed(self) -> bool:
        return (self.header("Idempotent-Replayed") or "").strip().lower() == "true"

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def payment_id(self) -> str | None:
        document = self.json()
        found = document.get("id") if isinstance(document, dict) else None
        return found if isinstance(found, str) else None


@dataclass(frozen=True)
class Prepared:
    """A request with its final (possibly signed) headers, ready to go out the moment it is sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Client:
    target: Target
    auth: Authenticator
    timeout: float = 30.0
    seen: list[Response] = field(default_factory=list)  # every answer of the run, for the problem+json audit
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def prepare(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Prepared:
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        base = {"User-Agent": USER_AGENT, "Accept": "application/json, application/problem+json"}
        if body is not None:
            base["Content-Type"] = "application/json"
        merged = {**base, **(headers or {})}
        return Prepared(method, path, self.auth.headers(self.target, method, path, merged, data), data)

    def connect(self) -> http.client.HTTPConnection:
        """An open connection, so a later send starts the request at once (the barrier's point)."""
        connection: http.client.HTTPConnection
        if self.target.scheme == "https":
            connection = http.client.HTTPSConnection(
                self.target.host, self.target.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(self.target.host, self.target.port, timeout=self.timeout)
        try:
            connection.connect()
        except OSError as error:
            connection.close()
            raise _translate(error, self.target) from error
        return connection

    def send(self, connection: http.client.HTTPConnection, request: Prepared) -> Response:
        try:
            connection.request(request.method, self.target.path(request.path), request.body, request.headers)
            answer = connection.getresponse()
            response = Response(request.method, request.path, answer.status, tuple(answer.getheaders()), answer.read())
        except (OSError, http.client.HTTPException) as error:
            raise _translate(error, self.target) from error
        finally:
            connection.close()
        with self._lock:
            self.seen.append(response)
        return response

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Response:
        return self.send(self.connect(), self.prepare(method, path, body, headers))


def _translate(error: BaseException, target: Target) -> TransportError:
    where = f"{target.host}:{target.port}"
    if isinstance(error, ConnectionRefusedError):
        return Unreachable(f"connection refused by {where}: is the server running?")
    if isinstance(error, socket.gaierror):
        return Unreachable(f"cannot resolve {target.host}: {error.strerror}")
    if isinstance(error, TimeoutError | socket.timeout):
        return TransportError(f"no answer from {where} within the timeout")
    return TransportError(f"{type(error).__name__} talking to {where}: {error}")
