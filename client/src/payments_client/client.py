"""The synchronous client: one httpx connection pool, each operation retried as `_core.Attempts` decides."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from . import _core
from ._core import AttemptReport, Done, Operation, Policy
from .models import Payment, Refund
from .retry import Backoff


class Client:
    """`Client("http://127.0.0.1:3000", headers={"X-Merchant-Id": ...})` against `make run`;
    `Client("https://….execute-api.eu-west-1.amazonaws.com/v1", auth=SigV4())` against a deployed stack.

    Every write runs under one Idempotency-Key (yours, or a new UUID4 on the result and on every error),
    sent with the same body bytes on every attempt; transient failures are retried with full-jitter backoff
    (or the server's Retry-After) within `max_attempts` and `deadline` seconds in all."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        auth: httpx.Auth | None = None,
        max_attempts: int = 5,
        deadline: float = 60.0,
        backoff: Backoff | None = None,
        on_attempt: Callable[[AttemptReport], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if max_attempts < 1 or deadline <= 0 or timeout <= 0:
            raise ValueError("max_attempts must be >= 1, deadline and timeout > 0")
        self.policy = Policy(timeout, max_attempts, deadline, backoff or Backoff())
        self._on_attempt = on_attempt
        self._http = httpx.Client(
            base_url=base_url,
            headers={"User-Agent": _core.USER_AGENT, **(headers or {})},
            auth=auth,
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, operation: Operation) -> Done:
        attempts = _core.Attempts(operation, self.policy, self._on_attempt)
        while True:
            timeout = attempts.start()
            try:
                response = self._http.request(
                    operation.method,
                    operation.path,
                    content=operation.body,
                    params=operation.params or None,
                    headers=operation.headers(),
                    timeout=timeout,
                )
            except httpx.TransportError as error:  # connect, read, write, pool timeouts, resets, protocol errors
                wait = attempts.failed(error)
            else:
                outcome = attempts.answered(response.status_code, response.headers, response.content)
                if isinstance(outcome, Done):
                    return outcome
                wait = outcome
            time.sleep(wait)

    def create_payment(
        self,
        *,
        amount: int,
        currency: str,
        source: str,
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
        customer: str | None = None,
        description: str | None = None,
    ) -> Payment:
        """A payment, exactly once per key. Check `payment.requires_action` (3-D Secure: 202 with
        `next_action` and `client_secret`). Raises `Declined`, `KeyReused`, `RetriesExhausted`..."""
        operation = _core.create_payment(
            amount, currency, source, idempotency_key, metadata=metadata, customer=customer, description=description
        )
        done = self._run(operation)
        return Payment.from_json(done.document, replayed=done.replayed, key=operation.key)

    def get_payment(self, payment_id: str) -> Payment:
        done = self._run(Operation("get_payment", "GET", f"/payments/{_core.segment(payment_id)}"))
        return Payment.from_json(done.document)

    def list_payments(self, *, limit: int | None = None, starting_after: str | None = None) -> Iterator[Payment]:
        """The merchant's payments, newest first, page after page (`limit` per page) until the last."""
        for document in self._pages("list_payments", "/payments", limit, starting_after):
            yield Payment.from_json(document)

    def create_refund(
        self,
        payment_id: str,
        *,
        amount: int | None = None,
        idempotency_key: str | None = None,
        reason: str | None = None,
    ) -> Refund:
        """A refund, exactly once per key; `amount=None` refunds all that remains. Raises `Conflict` (with
        `problem["remaining_amount"]`) when it does not fit."""
        operation = _core.create_refund(payment_id, amount, idempotency_key, reason)
        done = self._run(operation)
        return Refund.from_json(done.document, replayed=done.replayed, key=operation.key)

    def get_refund(self, payment_id: str, refund_id: str) -> Refund:
        path = f"/payments/{_core.segment(payment_id)}/refunds/{_core.segment(refund_id)}"
        return Refund.from_json(self._run(Operation("get_refund", "GET", path)).document)

    def list_refunds(
        self, payment_id: str, *, limit: int | None = None, starting_after: str | None = None
    ) -> Iterator[Refund]:
        path = f"/payments/{_core.segment(payment_id)}/refunds"
        for document in self._pages("list_refunds", path, limit, starting_after):
            yield Refund.from_json(document)

    def _pages(self, name: str, path: str, limit: int | None, cursor: str | None) -> Iterator[dict[str, Any]]:
        while True:
            page = self._run(_core.page(name, path, limit, cursor)).document
            yield from (item for item in page.get("data") or [] if isinstance(item, dict))
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not isinstance(cursor, str):
                return
