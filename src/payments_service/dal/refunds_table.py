"""The refunds table: one item per settled refund, keyed by payment and refund id, written only by the
completion that settles the refund and records its answer. Listed oldest first from the payment's own
partition, read whole (a payment has at most MAX_REFUNDS_PER_PAYMENT refunds)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..domain.pages import Page
from ..domain.refunds import MAX_REFUNDS_PER_PAYMENT, RefundsUnavailable
from ..domain.stored_refunds import Refund, StoredRefund
from . import paging
from .errors import unavailable_as
from .payments_table import follow_up_shard

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Sparse: only refunds the processor has not finished carry its keys (see refund_states.py).
PENDING_INDEX = "pending_refunds"  # template.yaml: pending_bucket HASH, next_check_ms RANGE
_CURSOR_SHAPE = {"refund_id": Refund.ID_PATTERN, "created_at": paging.RFC3339_MS}


def to_item(refund: StoredRefund) -> dict[str, Any]:
    item: dict[str, Any] = {
        "payment_id": {"S": refund.payment_id},
        "refund_id": {"S": refund.id},
        "merchant_id": {"S": refund.merchant_id},
        "amount": {"N": str(refund.amount)},
        "currency": {"S": refund.currency},
        "status": {"S": refund.status},
        "created_at": {"S": refund.created_at},
        "processor_refund_id": {"S": refund.processor_refund_id},
        "reference": {"S": refund.reference},
    }
    if refund.reason is not None:
        item["reason"] = {"S": refund.reason}
    if refund.failure_reason is not None:
        item["failure_reason"] = {"S": refund.failure_reason}
    if refund.status == "pending" and refund.next_check_ms is not None:
        item["pending_bucket"] = {"S": follow_up_shard(refund.id)}
        item["next_check_ms"] = {"N": str(refund.next_check_ms)}
    return item


def from_item(item: dict[str, Any]) -> StoredRefund:
    return StoredRefund.model_validate(
        {
            "id": item["refund_id"]["S"],
            "payment_id": item["payment_id"]["S"],
            "merchant_id": item["merchant_id"]["S"],
            "amount": int(item["amount"]["N"]),
            "currency": item["currency"]["S"],
            "status": item["status"]["S"],
            "reason": item.get("reason", {}).get("S"),
            "created_at": item["created_at"]["S"],
            "processor_refund_id": item["processor_refund_id"]["S"],
            "reference": item["reference"]["S"],
            "failure_reason": item.get("failure_reason", {}).get("S"),
            "next_check_ms": int(item["next_check_ms"]["N"]) if "next_check_ms" in item else None,
        }
    )


class DynamoDBRefundsTable:
    def __init__(self, client: Callable[[], DynamoDBClient], table_name: str) -> None:
        self._client = client
        self._table = table_name

    def insert(self, refund: StoredRefund) -> dict[str, Any]:
        """A TransactWriteItems entry that creates the refund; its condition fails if the id exists."""
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(refund),
                "ConditionExpression": "attribute_not_exists(refund_id)",
            }
        }

    def get(self, payment_id: str, refund_id: str) -> StoredRefund | None:
        key = {"payment_id": {"S": payment_id}, "refund_id": {"S": refund_id}}
        response = self._call(lambda: self._client().get_item(TableName=self._table, Key=key, ConsistentRead=True))
        item = response.get("Item")
        return from_item(item) if item else None

    def list(self, payment_id: str, limit: int, cursor: str | None) -> Page[StoredRefund]:
        # The payment's own partition, read whole and strongly consistent: a payment has at most
        # MAX_REFUNDS_PER_PAYMENT refunds (one small page), and no index is needed, so global tables in strong
        # consistency, which have no local secondary indexes, list refunds exactly as a single Region does.
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "payment_id = :p",
            "ExpressionAttributeValues": {":p": {"S": payment_id}},
            "ConsistentRead": True,
        }
        items = self._call(lambda: paging.query_at_most(self._client(), query, MAX_REFUNDS_PER_PAYMENT + 1))
        ordered = sorted((from_item(item) for item in items), key=lambda r: (r.created_at, r.id))  # oldest first
        if cursor is not None:
            start = paging.decode(cursor, _CURSOR_SHAPE)
            ordered = [r for r in ordered if (r.created_at, r.id) > (start["created_at"], start["refund_id"])]
        refunds = ordered[:limit]
        last = refunds[-1] if len(ordered) > limit else None
        next_cursor = paging.encode({"refund_id": last.id, "created_at": last.created_at}) if last else None
        return Page(refunds, next_cursor)

    @staticmethod
    def _call(call: Callable[[], Any]) -> Any:
        with unavailable_as(RefundsUnavailable):
            return call()
