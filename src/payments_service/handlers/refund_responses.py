"""A create-refund result as HTTP: the recorded outcome rendered the same way on every replay."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..logic.create_refund import RefundResult
from .payment_responses import REPLAYED_HEADER
from .problems import PROBLEM_JSON, problem_body


def refund_path(payment_id: str, refund_id: str) -> str:
    return f"/payments/{payment_id}/refunds/{refund_id}"


def refund_response(result: RefundResult, base_path: str) -> Response[str]:
    recorded = result.recorded
    headers = {REPLAYED_HEADER: "true"} if result.replayed else {}
    if recorded.outcome == "created" and recorded.body is not None and recorded.refund_id is not None:
        location = base_path + refund_path(recorded.payment_id, recorded.refund_id)
        return Response(201, "application/json", recorded.body, {"Location": location, **headers})
    body = problem_body(
        "payment-not-refundable",
        409,
        "The processor refused to refund this payment; nothing was refunded",
        refusal_code=recorded.refusal_code,
    )
    return Response(409, PROBLEM_JSON, body, headers)
