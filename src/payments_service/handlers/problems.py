"""RFC 7807 problem+json responses, each with a stable type URI."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

from ..models.problems import PROBLEM_BASE

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
    "card-declined": "Payment declined",
    "invalid-payment-source": "Payment source not recognised",
    "service-unavailable": "Temporarily unavailable",
    "internal-error": "Internal error",
}


def problem_body(slug: str, status: int, detail: str, **extensions: Any) -> str:
    problem = {"type": PROBLEM_BASE + slug, "title": TITLES[slug], "status": status, "detail": detail}
    return json.dumps({**problem, **extensions}, separators=(",", ":"))


def problem(
    slug: str, status: int, detail: str, headers: dict[str, str] | None = None, **extensions: Any
) -> Response[str]:
    return Response(
        status_code=status,
        content_type=PROBLEM_JSON,
        body=problem_body(slug, status, detail, **extensions),
        headers=headers or {},
    )


def retry_after(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(max(1, seconds))}
