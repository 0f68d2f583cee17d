"""The OpenAPI documentation of the HTTP routes, shared by api.py and tools/openapi.py."""

from __future__ import annotations

from typing import Any

from ..domain.stored_payments import Payment
from ..domain.stored_refunds import Refund
from ..models.events import EventReceipt
from ..models.lists import PaymentList, RefundList
from ..models.problems import Problem
from .problems import PROBLEM_JSON

_REPLAYED: dict[str, Any] = {
    "Idempotent-Replayed": {
        "description": "true when this is the recorded answer to an earlier request with the same key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
_RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 1}}
}
_HEADERS_OF: dict[int, dict[str, Any]] = {402: _REPLAYED, 409: _RETRY_AFTER, 503: _RETRY_AFTER}


def _problems(*statuses: int) -> dict[int, Any]:
    problem = {"description": "Problem details (RFC 9457)", "content": {PROBLEM_JSON: {"model": Problem}}}
    return {s: {**problem, "headers": _HEADERS_OF[s]} if s in _HEADERS_OF else problem for s in statuses}


CREATE_PAYMENT_DOC: dict[str, Any] = {
    "summary": "Create a payment, exactly once per Idempotency-Key",
    "responses": {
        201: {
            "description": "Payment created (or the replay of its recorded answer)",
            "headers": {
                "Location": {"description": "/payments/{id} of the payment", "schema": {"type": "string"}},
                **_REPLAYED,
            },
            "content": {"application/json": {"model": Payment}},
        },
        202: {
            "description": "Recorded, but the customer must authenticate (3-D Secure) before the money moves: "
            "`status` is requires_action, with `next_action` and `client_secret` for Stripe.js `handleNextAction`. "
            "The outcome arrives later (GET shows succeeded, failed or canceled); a replay gives these same bytes",
            "headers": {
                "Location": {"description": "/payments/{id} of the payment", "schema": {"type": "string"}},
                **_REPLAYED,
            },
            "content": {"application/json": {"model": Payment}},
        },
        **_problems(400, 401, 402, 409, 413, 415, 422, 500, 503),
    },
}
STRIPE_WEBHOOK_DOC: dict[str, Any] = {
    "summary": "Receive a Stripe event (Stripe calls this, not merchants)",
    "description": "Not behind IAM: the `Stripe-Signature` header is verified against the endpoint's signing "
    "secret on the raw body (300 s tolerance). Events move payments and refunds only forward, so repeats and "
    "any order are harmless; events about objects that are not ours are acknowledged and ignored.",
    "security": [],
    "responses": {
        200: {
            "description": "Received (applied, already applied, or not ours)",
            "content": {"application/json": {"model": EventReceipt}},
        },
        **_problems(400, 413, 500, 503),
    },
}
GET_PAYMENT_DOC: dict[str, Any] = {
    "summary": "Get a payment",
    "responses": {
        200: {"description": "The payment", "content": {"application/json": {"model": Payment}}},
        **_problems(401, 404, 500, 503),
    },
}
LIST_PAYMENTS_DOC: dict[str, Any] = {
    "summary": "List the merchant's payments, newest first",
    "description": "Through an index on merchant and creation time, so a payment created a moment ago may "
    "appear a moment later. `starting_after` takes the `next_cursor` of the previous page.",
    "responses": {
        200: {"description": "A page of payments", "content": {"application/json": {"model": PaymentList}}},
        **_problems(400, 401, 500, 503),
    },
}
CREATE_REFUND_DOC: dict[str, Any] = {
    "summary": "Refund a payment, exactly once per Idempotency-Key, never beyond what was charged",
    "description": "Without `amount`, refunds all that remains refundable. A refund larger than what remains "
    "is a 409 `refund-exceeds-payment` problem whose `remaining_amount` says what does remain; nothing is "
    "reserved and the key is not used up. A refund the processor refuses is a 409 `payment-not-refundable` "
    "problem, recorded and replayed. A declined payment was never recorded and has no id: 404. A payment "
    "has at most 100 refunds (whatever their outcome): the 101st is a 409 `too-many-refunds` problem; nothing "
    "is reserved and the key is not used up.",
    "responses": {
        201: {
            "description": "Refund created (or the replay of its recorded answer)",
            "headers": {
                "Location": {
                    "description": "/payments/{payment_id}/refunds/{id} of the refund",
                    "schema": {"type": "string"},
                },
                **_REPLAYED,
            },
            "content": {"application/json": {"model": Refund}},
        },
        **_problems(400, 401, 404, 409, 413, 415, 422, 500, 503),
    },
}
LIST_REFUNDS_DOC: dict[str, Any] = {
    "summary": "List a payment's refunds, oldest first",
    "responses": {
        200: {"description": "A page of refunds", "content": {"application/json": {"model": RefundList}}},
        **_problems(400, 401, 404, 500, 503),
    },
}
GET_REFUND_DOC: dict[str, Any] = {
    "summary": "Get a refund",
    "responses": {
        200: {"description": "The refund", "content": {"application/json": {"model": Refund}}},
        **_problems(401, 404, 500, 503),
    },
}
