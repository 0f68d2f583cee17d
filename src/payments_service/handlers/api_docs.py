"""The OpenAPI documentation of the HTTP routes, shared by api.py and tools/openapi.py."""

from __future__ import annotations

from typing import Any

from ..models.payments import Payment
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
    problem = {"description": "Problem details (RFC 7807)", "content": {PROBLEM_JSON: {"model": Problem}}}
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
        **_problems(400, 401, 402, 409, 413, 415, 422, 500, 503),
    },
}
GET_PAYMENT_DOC: dict[str, Any] = {
    "summary": "Get a payment",
    "responses": {
        200: {"description": "The payment", "content": {"application/json": {"model": Payment}}},
        **_problems(401, 404, 500, 503),
    },
}
