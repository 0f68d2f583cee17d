"""A create-payment result as HTTP: the recorded outcome rendered the same way on every replay."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..logic.create_payment import PaymentResult
from .problems import PROBLEM_JSON, problem_body

REPLAYED_HEADER = "Idempotent-Replayed"


# 202: recorded, but the customer must authenticate (3-D Secure) before the money moves.
_STATUSES = {"created": 201, "requires_action": 202, "declined": 402}


def payment_status(result: PaymentResult) -> int:
    """The status this result answers over HTTP (the queue logs it too: one vocabulary for both roads)."""
    return _STATUSES[result.recorded.outcome]


def payment_response(result: PaymentResult, base_path: str) -> Response[str]:
    recorded = result.recorded
    headers = {REPLAYED_HEADER: "true"} if result.replayed else {}
    if recorded.outcome in ("created", "requires_action") and recorded.body is not None:
        location = f"{base_path}/payments/{recorded.payment_id}"
        status = payment_status(result)
        return Response(status, "application/json", recorded.body, {"Location": location, **headers})
    body = problem_body("card-declined", 402, "The card was declined", decline_code=recorded.decline_code)
    return Response(402, PROBLEM_JSON, body, headers)
