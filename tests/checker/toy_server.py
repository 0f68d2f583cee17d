"""A deliberately NON-idempotent payments server (test fixture for the checker), speaking our API's shape.

Its POST /payments reads the key, "charges" (a short sleep: the race window), then writes the answer, so
concurrent duplicates of one key all miss the read and each charge. Its refunds read what remains, "refund",
then write, so racing refunds together give back more than was charged. `atomic=True` claims the key under a lock
first (409 while in flight): the control that passes every check. Other knobs switch single flaws on.
Run by hand: `python -m tests.checker.toy_server --port 3100`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROBLEM = "urn:toy:problem:"
Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Flaws:
    atomic: bool = False  # False: read-then-write race (the double charge)
    replay_header: bool = True  # False: replays lack Idempotent-Replayed: true
    problem_json: bool = True  # False: errors are {"message": ...} application/json
    check_body: bool = True  # False: the same key with another body replays instead of 422
    merchant: str | None = None  # set: requests without this X-Merchant-Id get API Gateway's 403
    charge_seconds: float = 0.2  # wide enough that a barrier-started burst of duplicates all miss the read
    slow_seconds: float = 0.5


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Toy:
    flaws: Flaws
    answers: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)  # key -> fingerprint, status, body
    in_flight: set[str] = field(default_factory=set)
    payments: dict[str, bytes] = field(default_factory=dict)
    amounts: dict[str, int] = field(default_factory=dict)  # payment id -> amount
    refunded: dict[str, int] = field(default_factory=dict)  # payment id -> refunded so far
    received: list[Received] = field(default_factory=list)
    charges: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create(
        self, key: str, body: bytes, work: Callable[[dict[str, Any]], Answer] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        fingerprint = hashlib.sha256(body).hexdigest()
        if self.flaws.atomic:
            with self.lock:
                stored = self.answers.get(key)
                if stored is None and key in self.in_flight:
                    return _problem(409, "in-use", "in progress", self.flaws, {"Retry-After": "1"})
                if stored is None:
                    self.in_flight.add(key)
        else:
            stored = self.answers.get(key)  # read ... (no claim: the bug under test)
        if stored is not None:
            if self.flaws.check_body and stored[0] != fingerprint:
                return _problem(422, "reused", "key reused with another body", self.flaws)
            headers = {"Content-Type": _type(stored[1], self.flaws)}
            if self.flaws.replay_header:
                headers["Idempotent-Replayed"] = "true"
            return stored[1], headers, stored[2]
        status, headers, answer = (work or self._charge)(json.loads(body))
        with self.lock:
            self.answers[key] = (fingerprint, status, answer)  # ... then write, last writer wins
            self.in_flight.discard(key)
        return status, headers, answer

    def _charge(self, request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        slow = request.get("source") == "tok_slow"
        time.sleep(self.flaws.slow_seconds if slow else self.flaws.charge_seconds)  # the processor call
        with self.lock:
            self.charges += 1
        if request.get("source") == "tok_chargeDeclined":
            return _problem(402, "declined", "declined", self.flaws, decline_code="card_declined")
        payment = {"id": f"pay_{uuid.uuid4().hex[:24]}", "amount": request["amount"], "currency": request["currency"]}
        body = json.dumps(payment).encode()
        with self.lock:
            self.payments[payment["id"]] = body
            self.amounts[payment["id"]] = payment["amount"]
        return 201, {"Content-Type": "application/json", "Location": f"/payments/{payment['id']}"}, body

    def refund(self, payment_id: str, request: dict[str, Any]) -> Answer:
        if payment_id not in self.amounts:
            return _problem(404, "not-found", "no such payment", self.flaws)
        if self.flaws.atomic:
            with self.lock:  # the control: what remains is checked and taken in one step
                answer = self._take(payment_id, request)
            time.sleep(self.flaws.charge_seconds)
            return answer
        remaining = self.amounts[payment_id] - self.refunded.get(payment_id, 0)  # read ...
        time.sleep(self.flaws.charge_seconds)  # ... "refund" ...
        return self._take(payment_id, request, remaining)  # ... then write: racing refunds all fit

    def _take(self, payment_id: str, request: dict[str, Any], remaining: int | None = None) -> Answer:
        if remaining is None:
            remaining = self.amounts[payment_id] - self.refunded.get(payment_id, 0)
        amount = request.get("amount") or remaining
        if amount > remaining or amount <= 0:
            return _problem(409, "refund-exceeds-payment", "too much", self.flaws, remaining_amount=remaining)
        self.refunded[payment_id] = self.refunded.get(payment_id, 0) + amount
        refund = {"id": f"re_{uuid.uuid4().hex[:24]}", "payment_id": payment_id, "amount": amount}
        return 201, {"Content-Type": "application/json"}, json.dumps(refund).encode()


def _type(status: int, flaws: Flaws) -> str:
    return "application/problem+json" if status >= 400 and flaws.problem_json else "application/json"


def _problem(
    status: int, slug: str, detail: str, flaws: Flaws, headers: dict[str, str] | None = None, **extra: Any
) -> tuple[int, dict[str, str], bytes]:
    if flaws.problem_json:
        document = {"type": PROBLEM + slug, "title": slug, "status": status, "detail": detail, **extra}
    else:
        document = {"message": detail, **extra}
    return status, {"Content-Type": _type(status, flaws), **(headers or {})}, json.dumps(document).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(self._route())

    do_POST = do_GET

    def _route(self) -> tuple[int, dict[str, str], bytes]:
        toy = self.server.toy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        with toy.lock:
            toy.received.append(Received(self.command, self.path, headers, body))
        if toy.flaws.merchant is not None and headers.get("x-merchant-id") != toy.flaws.merchant:
            return 403, {"Content-Type": "application/json"}, b'{"message":"Missing Authentication Token"}'
        if self.command == "POST" and self.path == "/payments":
            key = headers.get("idempotency-key")
            if not key:
                return _problem(400, "missing-key", "Idempotency-Key required", toy.flaws)
            return toy.create(key, body)
        parts = self.path.split("/")
        if self.command == "POST" and len(parts) == 4 and parts[1] == "payments" and parts[3] == "refunds":
            key = headers.get("idempotency-key")
            if not key:
                return _problem(400, "missing-key", "Idempotency-Key required", toy.flaws)
            return toy.create(key, body, lambda request: toy.refund(parts[2], request))
        if self.command == "GET" and self.path.startswith("/payments/"):
            found = toy.payments.get(self.path.removeprefix("/payments/"))
            if found is not None:
                return 200, {"Content-Type": "application/json"}, found
        return _problem(404, "not-found", "no such resource", toy.flaws)

    def _answer(self, answer: tuple[int, dict[str, str], bytes]) -> None:
        status, headers, body = answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a burst of duplicates is queued, never refused
    toy: Toy


@contextmanager
def running(flaws: Flaws | None = None, port: int = 0) -> Iterator[tuple[str, Toy]]:
    """The toy on 127.0.0.1 in a background thread; yields its base URL and state; always shut down."""
    server = _Server(("127.0.0.1", port), _Handler)
    server.toy = Toy(flaws or Flaws())
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="toy-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.toy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a deliberately non-idempotent payments server")
    parser.add_argument("--port", type=int, default=3100)
    parser.add_argument("--atomic", action="store_true", help="claim keys under a lock (the correct control)")
    arguments = parser.parse_args()
    with running(Flaws(atomic=arguments.atomic), arguments.port) as (url, _):
        print(f"toy payments server on {url}; Ctrl-C stops it", flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()
