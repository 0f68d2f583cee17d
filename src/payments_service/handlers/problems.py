"""Every error a transport can answer, mapped once to an RFC 9457 problem with a stable type URI."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from ..domain.payments import PaymentsUnavailable
from ..domain.processor import (
    InvalidPaymentRequest,
    InvalidPaymentSource,
    ProcessorIdempotencyError,
    ProcessorMisconfigured,
    ProcessorUnavailable,
)
from ..idempotency import KeyInUse, KeyReused, ReferenceExpired, TemporarilyUnavailable
from ..logic.create_payment import PaymentConflict
from ..models.problems import PROBLEM_BASE
from .idempotency_key import InvalidKey, MissingKey
from .principal import Unauthenticated
from .query import InvalidQuery
from .transport import BodyRejected, InvalidBody

PROBLEM_JSON = "application/problem+json"

TITLES = {
    "missing-idempotency-key": "Idempotency-Key header missing",
    "invalid-idempotency-key": "Idempotency-Key header invalid",
    "invalid-request": "Request invalid",
    "malformed-body": "Request body is not valid JSON",
    "payload-too-large": "Request body too large",
    "unsupported-media-type": "Unsupported media type",
    "unauthenticated": "Caller not authenticated",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "idempotency-key-in-use": "A request with this Idempotency-Key is in progress",
    "idempotency-key-reused": "Idempotency-Key reused with a different request",
    "idempotency-key-expired-at-processor": "Idempotency-Key too old to retry at the processor",
    "card-declined": "Payment declined",
    "invalid-payment-source": "Payment source not recognised",
    "payment-refused-by-processor": "Amount or currency refused by the processor",
    "payment-conflict": "Payment already recorded",
    "refund-exceeds-payment": "Refund exceeds what remains of the payment",
    "payment-not-refundable": "Payment cannot be refunded",
    "payment-declined": "Payment was declined",
    "payment-not-succeeded": "Payment has not succeeded",
    "refund-conflict": "Refund recorded inconsistently",
    "too-many-refunds": "Payment has the most refunds allowed",
    "invalid-cursor": "Cursor invalid",
    "service-unavailable": "Temporarily unavailable",
    "internal-error": "Internal error",
    "processor-error": "Payment processor error",
    "invalid-signature": "Event signature invalid",
    "message-older-than-key-retention": "Message older than its idempotency key is kept",
    "invalid-event": "Not an event",
}


def problem_body(slug: str, status: int, detail: str, **extensions: Any) -> str:
    problem = {"type": PROBLEM_BASE + slug, "title": TITLES[slug], "status": status, "detail": detail}
    return json.dumps({**problem, **extensions}, separators=(",", ":"))


@dataclass(frozen=True)
class ProblemAnswer:
    """How one error is answered: the problem (its body's schema is models/problems.Problem), its headers and the
    outcome logged and counted."""

    slug: str
    status: int
    detail: str
    outcome: str  # the log's and the metric's name for how the request ended
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def body(self) -> str:
        return problem_body(self.slug, self.status, self.detail, **self.extensions)

    def response(self) -> Response[str]:
        return Response(status_code=self.status, content_type=PROBLEM_JSON, body=self.body, headers=self.headers)

    def proxy_response(self) -> dict[str, Any]:
        """The API Gateway proxy answer, for refusals made before the resolver runs."""
        headers = {"Content-Type": PROBLEM_JSON, **self.headers}
        return {
            "statusCode": self.status,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "body": self.body,
            "isBase64Encoded": False,
        }


def retry_after(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(max(1, seconds))}


def _unavailable(error: TemporarilyUnavailable) -> str:
    """Which dependency failed, for the metric: the processor (outcome unknown, key released) or our store."""
    return "processor_unavailable" if isinstance(error.__cause__, ProcessorUnavailable) else "unavailable"


def _invalid_body(error: InvalidBody) -> ProblemAnswer:
    if error.malformed:
        return ProblemAnswer("malformed-body", 400, "The body is not valid JSON", "invalid")
    return ProblemAnswer(
        "invalid-request", 400, "The request does not match the schema", "invalid", {}, {"errors": error.errors}
    )


@cache
def _problems() -> dict[type[Exception], Callable[[Any], ProblemAnswer]]:
    """Every mapped error class and its problem. Built at the first error, not at import: the refund,
    listing, webhook and queue errors' modules are not on a first POST /payments's path (issue 23)."""
    from ..domain.pages import InvalidCursor
    from ..domain.processor_events import InvalidEvent, InvalidSignature
    from ..domain.refunds import (
        MAX_REFUNDS_PER_PAYMENT,
        PaymentBusy,
        PaymentDeclined,
        PaymentNotFound,
        PaymentNotSucceeded,
        RefundConflict,
        RefundExceedsPayment,
        RefundsUnavailable,
        TooManyRefunds,
    )
    from .queue_messages import MessageOutlivedItsKey

    return {
        BodyRejected: lambda e: ProblemAnswer(e.slug, e.status, e.detail, "invalid"),
        InvalidBody: _invalid_body,
        MissingKey: lambda e: ProblemAnswer("missing-idempotency-key", 400, str(e), "invalid"),
        InvalidKey: lambda e: ProblemAnswer("invalid-idempotency-key", 400, str(e), "invalid"),
        Unauthenticated: lambda e: ProblemAnswer("unauthenticated", 401, str(e), "unauthenticated"),
        NotFoundError: lambda e: ProblemAnswer("not-found", 404, "No such resource", "not_found"),
        KeyInUse: lambda e: ProblemAnswer(
            "idempotency-key-in-use",
            409,
            "The first request with this key is still being processed; retry later",
            "in_flight",
            retry_after(e.retry_after_seconds),
        ),
        KeyReused: lambda e: ProblemAnswer(
            "idempotency-key-reused",
            422,
            "This Idempotency-Key was already used with a different request body",
            "mismatch",
        ),
        ReferenceExpired: lambda e: ProblemAnswer(
            "idempotency-key-expired-at-processor",
            422,
            "The first attempt with this key ended with an unknown outcome longer ago than the processor deduplicates"
            " retries; it is left to reconciliation. Check GET /payments before paying again with a new key",
            "reference_expired",
        ),
        InvalidPaymentSource: lambda e: ProblemAnswer(
            "invalid-payment-source", 400, "The payment source is not recognised by the processor", "rejected"
        ),
        InvalidPaymentRequest: lambda e: ProblemAnswer(
            "payment-refused-by-processor",
            400,
            "The processor refused the request's amount or currency; nothing was charged",
            "rejected",
            {},
            {"code": e.code, "param": e.param},
        ),
        # Ours to fix, never the client's: 500s, each with its own outcome (a metric to alarm on) and an ERROR log.
        ProcessorMisconfigured: lambda e: ProblemAnswer(
            "processor-error",
            500,
            "The payment processor refused our credentials; it has been logged",
            "processor_auth",
        ),
        ProcessorIdempotencyError: lambda e: ProblemAnswer(
            "processor-error",
            500,
            "The payment processor refused a retry of this payment; nothing new was charged and it has been logged",
            "processor_idempotency",
        ),
        PaymentConflict: lambda e: ProblemAnswer(
            "payment-conflict",
            409,
            "A payment for this key is already recorded inconsistently; contact support",
            "inconsistent",
        ),
        TemporarilyUnavailable: lambda e: ProblemAnswer(
            "service-unavailable",
            503,
            "A dependency failed transiently; retry with the same Idempotency-Key",
            _unavailable(e),
            retry_after(e.retry_after_seconds),
        ),
        ProcessorUnavailable: lambda e: ProblemAnswer(
            "service-unavailable",
            503,
            "The payment processor is unreachable; retry later",
            "processor_unavailable",
            retry_after(1),
        ),
        PaymentsUnavailable: lambda e: ProblemAnswer(
            "service-unavailable", 503, "Payments are temporarily unreadable", "unavailable", retry_after(1)
        ),
        InvalidQuery: lambda e: ProblemAnswer(
            "invalid-request", 400, "The query does not match the schema", "invalid", {}, {"errors": e.errors}
        ),
        InvalidCursor: lambda e: ProblemAnswer(
            "invalid-cursor", 400, "starting_after must be a next_cursor this list returned", "invalid"
        ),
        PaymentNotFound: lambda e: ProblemAnswer("not-found", 404, "No such payment", "not_found"),
        PaymentNotSucceeded: lambda e: ProblemAnswer(
            "payment-not-succeeded",
            409,
            "The payment awaits its customer, failed or was canceled: nothing was charged, nothing can be refunded",
            "rejected",
        ),
        PaymentDeclined: lambda e: ProblemAnswer(
            "payment-declined",
            409,
            "The payment was declined: nothing was charged, nothing can be refunded",
            "rejected",
        ),
        RefundExceedsPayment: lambda e: ProblemAnswer(
            "refund-exceeds-payment",
            409,
            f"At most {e.remaining} remains refundable on this payment; nothing was reserved",
            "refund_exceeds_payment",
            {},
            {"remaining_amount": e.remaining},
        ),
        TooManyRefunds: lambda e: ProblemAnswer(
            "too-many-refunds",
            409,
            f"A payment has at most {MAX_REFUNDS_PER_PAYMENT} refunds; nothing was reserved",
            "rejected",
            {},
            {"max_refunds": MAX_REFUNDS_PER_PAYMENT},
        ),
        PaymentBusy: lambda e: ProblemAnswer(
            "service-unavailable",
            503,
            "Other refunds of this payment kept changing its balance; retry with the same Idempotency-Key",
            "busy",
            retry_after(1),
        ),
        RefundConflict: lambda e: ProblemAnswer(
            "refund-conflict",
            409,
            "This refund's reservation is recorded inconsistently; contact support",
            "inconsistent",
        ),
        RefundsUnavailable: lambda e: ProblemAnswer(
            "service-unavailable", 503, "Refunds are temporarily unreadable", "unavailable", retry_after(1)
        ),
        # Webhooks: nothing changes; the sender is told why without being told what would have passed.
        InvalidSignature: lambda e: ProblemAnswer(
            "invalid-signature",
            400,
            "The Stripe-Signature header is missing, does not match the body, or is too old",
            "invalid_signature",
        ),
        MessageOutlivedItsKey: lambda e: ProblemAnswer(
            "message-older-than-key-retention",
            422,
            "The message was first sent longer ago than its Idempotency-Key is kept; it was not charged",
            "invalid",
        ),
        InvalidEvent: lambda e: ProblemAnswer(
            "invalid-event", 400, "The body is not an event this API can read", "invalid"
        ),
    }


_INTERNAL = ProblemAnswer("internal-error", 500, "An unexpected error occurred; it has been logged", "error")


def problem_for(error: BaseException) -> ProblemAnswer:
    """The problem answering `error` (its class or nearest ancestor in the map), else a logged 500."""
    problems = _problems()
    for cls in type(error).__mro__:
        if cls in problems:
            return problems[cls](error)
    return _INTERNAL
