"""One tree of errors. Every error carries the operation's `idempotency_key` (None for reads), so a caller
can persist it and resume: retrying with that key and the same arguments can never charge twice.

- `ApiError` and its subclasses: the API answered with a final problem (RFC 9457); retrying changes nothing.
- `RetriesExhausted`: every attempt was transient (no answer, 5xx, 429, in flight) and the attempts or the
  deadline ran out. The outcome is unknown: retry later with the same key, never with a new one.
"""

from __future__ import annotations

from typing import Any

from .retry import PROBLEM_BASE


class PaymentsError(Exception):
    """Base of every error this client raises."""

    def __init__(
        self,
        message: str,
        *,
        type: str | None = None,
        title: str | None = None,
        status: int | None = None,
        detail: str | None = None,
        idempotency_key: str | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.idempotency_key = idempotency_key
        self.problem: dict[str, Any] = problem or {}  # the whole document, extensions included


class ApiError(PaymentsError):
    """A final answer: the request was refused as sent. Fix it (a new request needs a new key) or give up."""

    replayed: bool = False

    @classmethod
    def from_problem(cls, status: int, problem: dict[str, Any], key: str | None, *, replayed: bool = False) -> ApiError:
        kind = problem.get("type") if isinstance(problem.get("type"), str) else None
        chosen = _by_type.get(kind or "") or _by_status.get(status) or ApiError
        title = problem.get("title") if isinstance(problem.get("title"), str) else None
        detail = problem.get("detail") if isinstance(problem.get("detail"), str) else None
        error = chosen(
            f"{status} {title or 'error'}" + (f": {detail}" if detail else ""),
            type=kind,
            title=title,
            status=status,
            detail=detail,
            idempotency_key=key,
            problem=problem,
        )
        error.replayed = replayed
        return error


class InvalidRequest(ApiError):
    """400 (or another final 4xx): the request as sent can never succeed."""


class Unauthenticated(ApiError):
    """401/403: not signed, signed wrong, or not allowed to call the API."""


class NotFound(ApiError):
    """404: no such payment or refund for this merchant."""


class Declined(ApiError):
    """402: the processor declined. Final and recorded: the same key replays the decline."""

    @property
    def decline_code(self) -> str | None:
        code = self.problem.get("decline_code")
        return code if isinstance(code, str) else None


class Conflict(ApiError):
    """409 that waiting does not fix: a refund beyond what remains (`remaining_amount`), a declined payment..."""


class KeyReused(ApiError):
    """422: this key was used with a different request. A bug in the caller: never retry it."""


class KeyExpiredAtProcessor(ApiError):
    """422: the key's first attempt ended unknown longer ago than the processor deduplicates; check the payment
    (GET) before paying again under a new key."""


class RetriesExhausted(PaymentsError):
    """No final answer within `max_attempts` or the deadline. The outcome is unknown: retry later with the same
    key (and the same arguments). `last_status`/`problem` describe the last answer, `last_error` the last
    transport error when there was no answer."""

    def __init__(self, message: str, *, attempts: int, last_error: BaseException | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.attempts = attempts
        self.last_error = last_error

    @property
    def last_status(self) -> int | None:
        return self.status


_by_type: dict[str, type[ApiError]] = {
    PROBLEM_BASE + "idempotency-key-reused": KeyReused,
    PROBLEM_BASE + "idempotency-key-expired-at-processor": KeyExpiredAtProcessor,
    PROBLEM_BASE + "card-declined": Declined,
    PROBLEM_BASE + "not-found": NotFound,
}
_by_status: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: Unauthenticated,
    402: Declined,
    403: Unauthenticated,
    404: NotFound,
    409: Conflict,
    422: KeyReused,
}
