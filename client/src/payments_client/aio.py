"""The asynchronous client: the same surface as `Client`, on httpx.AsyncClient; waits with asyncio.sleep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx

from . import _core
from ._core import AttemptReport, Done, Operation, Policy
from .models import Payment, Refund
from .retry import Backoff


class AsyncClient:
    """`Client` for asyncio: `async with AsyncClient(url) as client: await client.create_payment(...)`;
    the list methods are async iterators."""

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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if max_attempts < 1 or deadline <= 0 or timeout <= 0:
            raise ValueError("max_attempts must be >= 1, deadline and timeout > 0")
        self.policy = Policy(timeout, max_attempts, deadline, backoff or Backoff())
        self._on_attempt = on_attempt
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"User-Agent": _core.USER_AGENT, **(headers or {})},
            auth=auth,
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _run(self, operation: Operation) -> Done:
        attempts = _core.Attempts(operation, self.policy, self._on_attempt)
        while True:
            timeout = attempts.start()
            try:
                response = await self._http.request(
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
            await asyncio.sleep(wait)

    async def create_payment(
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
        done = await self._run(operation)
        return Payment.from_json(done.document, replayed=done.replayed, key=operation.key)

    async def get_payment(self, payment_id: str) -> Payment:
        done = await self._run(Operation("get_payment", "GET", f"/payments/{_core.segment(payment_id)}"))
        return Payment.from_json(done.document)

    async def list_payments(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> AsyncIterator[Payment]:
        """The merchant's payments, newest first, page after page (`limit` per page) until the last."""
        async for document in self._pages("list_payments", "/payments", limit, starting_after):
            yield Payment.from_json(document)

    async def create_refund(
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
        done = await self._run(operation)
        return Refund.from_json(done.document, replayed=done.replayed, key=operation.key)

    async def get_refund(self, payment_id: str, refund_id: str) -> Refund:
        path = f"/payments/{_core.segment(payment_id)}/refunds/{_core.segment(refund_id)}"
        return Refund.from_json((await self._run(Operation("get_refund", "GET", path))).document)

    async def list_refunds(
        self, payment_id: str, *, limit: int | None = None, starting_after: str | None = None
    ) -> AsyncIterator[Refund]:
        path = f"/payments/{_core.segment(payment_id)}/refunds"
        async for document in self._pages("list_refunds", path, limit, starting_after):
            yield Refund.from_json(document)

    async def _pages(
        self, name: str, path: str, limit: int | None, cursor: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        while True:
            page = (await self._run(_core.page(name, path, limit, cursor))).document
            for item in page.get("data") or []:
                if isinstance(item, dict):
                    yield item
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not isinstance(cursor, str):
                return
