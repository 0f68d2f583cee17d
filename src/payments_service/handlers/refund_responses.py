"""Refund results and lists as HTTP: recorded outcomes rendered the same way on every replay."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..domain.pages import Page
from ..domain.stored_payments import StoredPayment
from ..domain.stored_refunds import StoredRefund
from ..logic.create_refund import RefundResult
from ..models.lists import PaymentList, RefundList
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


def payment_list(page: Page[StoredPayment]) -> Response[str]:
    listed = PaymentList(data=[p.public() for p in page.items], has_more=page.has_more, next_cursor=page.next_cursor)
    return Response(200, "application/json", listed.model_dump_json())


def refund_list(page: Page[StoredRefund]) -> Response[str]:
    listed = RefundList(data=[r.public() for r in page.items], has_more=page.has_more, next_cursor=page.next_cursor)
    return Response(200, "application/json", listed.model_dump_json())
