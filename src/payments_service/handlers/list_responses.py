"""Pages of payments and refunds as HTTP: what the merchant may see of each item, with the cursor onward."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..domain.pages import Page
from ..domain.stored_payments import StoredPayment
from ..domain.stored_refunds import StoredRefund
from ..models.lists import PaymentList, RefundList


def payment_list(page: Page[StoredPayment]) -> Response[str]:
    listed = PaymentList(data=[p.public() for p in page.items], has_more=page.has_more, next_cursor=page.next_cursor)
    return Response(200, "application/json", listed.model_dump_json())


def refund_list(page: Page[StoredRefund]) -> Response[str]:
    listed = RefundList(data=[r.public() for r in page.items], has_more=page.has_more, next_cursor=page.next_cursor)
    return Response(200, "application/json", listed.model_dump_json())
