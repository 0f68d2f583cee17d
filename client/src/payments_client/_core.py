"""What the sync and async clients share, without I/O: the requests of each operation, and one `Attempts` per
logical operation deciding, answer by answer, whether it is done, final, or worth another try and after
how long. The clients only send and sleep."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .errors import ApiError, RetriesExhausted
from .retry import Backoff, parse_retry_after, retryable_status

logger = logging.getLogger("payments_client")
USER_AGENT = "idempotent-payments-client/0.1"


@dataclass(frozen=True)
class Operation:
    """One logical operation: the same method, path, key and body bytes on every attempt."""

    name: str
    method: str
    path: str
    key: str | None = None
    body: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json, application/problem+json"}
        if self.key is not None:
            headers["Idempotency-Key"] = self.key
        if self.body is not None:
            headers["Content-Type"] = "application/json"
        return headers


@dataclass(frozen=True)
class AttemptReport:
    """Given to the caller's `on_attempt` hook after every attempt (for metrics: count, status, wait)."""

    operation: str
    attempt: int
    key_hash: str | None  # never the key itself: logs and metrics are read by more people than the key's owner
    status: int | None  # None: no answer (connection error, timeout)
    error: str | None  # the transport error's class name when there was no answer
    wait: float | None  # seconds before the next attempt; None when this attempt was the last
    elapsed: float  # seconds since the operation started


@dataclass(frozen=True)
class Policy:
    timeout: float = 10.0  # one attempt, capped by what is left of the deadline
    max_attempts: int = 5
    deadline: float = 60.0  # the whole operation, every attempt and wait included
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(frozen=True)
class Done:
    status: int
    document: dict[str, Any]
    replayed: bool


def new_key() -> str:
    return str(uuid.uuid4())


def key_hash(key: str | None) -> str | None:
    return hashlib.sha256(key.encode()).hexdigest()[:16] if key is not None else None


def encode(body: dict[str, Any]) -> bytes:
    """Serialized once per operation: every retry sends these exact bytes (the server fingerprints them)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def segment(value: str) -> str:
    return quote(value, safe="")


def create_payment(
    amount: int,
    currency: str,
    source: str,
    key: str | None,
    *,
    metadata: Mapping[str, str] | None = None,
    customer: str | None = None,
    description: str | None = None,
) -> Operation:
    body: dict[str, Any] = {"amount": amount, "currency": currency, "source": source}
    optional = {"description": description, "metadata": dict(metadata) if metadata is not None else None}
    body.update({name: value for name, value in {**optional, "customer": customer}.items() if value is not None})
    return Operation("create_payment", "POST", "/payments", key or new_key(), encode(body))


def create_refund(payment_id: str, amount: int | None, key: str | None, reason: str | None = None) -> Operation:
    body: dict[str, Any] = {
        name: value for name, value in {"amount": amount, "reason": reason}.items() if value is not None
    }
    path = f"/payments/{segment(payment_id)}/refunds"
    return Operation("create_refund", "POST", path, key or new_key(), encode(body))


def page(name: str, path: str, limit: int | None, starting_after: str | None) -> Operation:
    params = {"limit": str(limit)} if limit is not None else {}
    if starting_after is not None:
        params["starting_after"] = starting_after
    return Operation(name, "GET", path, params=params)


class Attempts:
    """The retry loop's brain for one operation. Raises the final error, returns the wait before the next
    attempt, or `Done`."""

    def __init__(
        self,
        operation: Operation,
        policy: Policy,
        on_attempt: Callable[[AttemptReport], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.operation, self.policy, self._on_attempt, self._clock = operation, policy, on_attempt, clock
        self.started = clock()
        self.count = 0
        self._hash = key_hash(operation.key)

    def start(self) -> float:
        """Counts a new attempt; returns its timeout: the per-attempt one, or what is left of the deadline if less."""
        self.count += 1
        return max(0.001, min(self.policy.timeout, self.policy.deadline - self.elapsed()))

    def elapsed(self) -> float:
        return self._clock() - self.started

    def answered(self, status: int, headers: Mapping[str, str], content: bytes) -> Done | float:
        document = _json(content)
        replayed = headers.get("idempotent-replayed", "").strip().lower() == "true"
        if 200 <= status < 300 and document is not None:
            self._report(status, None, None)
            return Done(status, document, replayed)
        problem = document or {}
        kind = problem.get("type") if isinstance(problem.get("type"), str) else None
        # A 2xx without a readable body is an answer lost on the way: the same key replays it.
        if 200 <= status < 300 or retryable_status(status, kind):
            hint = parse_retry_after(headers.get("retry-after"))
            return self._again(status, None, problem, hint)
        self._report(status, None, None)
        raise ApiError.from_problem(status, problem, self.operation.key, replayed=replayed)

    def failed(self, error: BaseException) -> float:
        """No answer (connection refused or reset, timeout): the request may or may not have been processed."""
        return self._again(None, error, {}, None)

    def _again(
        self, status: int | None, error: BaseException | None, problem: dict[str, Any], hint: float | None
    ) -> float:
        wait = hint if hint is not None else self.policy.backoff.delay(self.count)
        left = self.policy.deadline - self.elapsed()
        if self.count < self.policy.max_attempts and wait < left:
            self._report(status, error, wait)
            return wait
        self._report(status, error, None)
        why = f"status {status}" if status is not None else type(error).__name__
        raise RetriesExhausted(
            f"{self.operation.name}: no final answer after {self.count} attempts in {self.elapsed():.1f} s "
            f"(last: {why}); retry later with the same Idempotency-Key",
            attempts=self.count,
            last_error=error,
            type=problem.get("type") if isinstance(problem.get("type"), str) else None,
            title=problem.get("title") if isinstance(problem.get("title"), str) else None,
            status=status,
            detail=problem.get("detail") if isinstance(problem.get("detail"), str) else None,
            idempotency_key=self.operation.key,
            problem=problem,
        )

    def _report(self, status: int | None, error: BaseException | None, wait: float | None) -> None:
        report = AttemptReport(
            self.operation.name,
            self.count,
            self._hash,
            status,
            type(error).__name__ if error is not None else None,
            wait,
            self.elapsed(),
        )
        if logger.isEnabledFor(logging.DEBUG):
            outcome = f"status {status}" if status is not None else f"no answer ({report.error})"
            then = f"retrying in {wait:.2f} s" if wait is not None else "done"
            logger.debug(
                "%s attempt %d/%d key#%s: %s, %s",
                report.operation,
                report.attempt,
                self.policy.max_attempts,
                self._hash or "-",
                outcome,
                then,
            )
        if self._on_attempt is not None:
            self._on_attempt(report)


def _json(content: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(content)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
