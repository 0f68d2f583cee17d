"""The payments table: one item per payment, written only inside the idempotency transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.payments import PaymentsUnavailable
from ..models.payments import StoredPayment
from .errors import is_transient

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def to_item(payment: StoredPayment) -> dict[str, Any]:
    item: dict[str, Any] = {
        "payment_id": {"S": payment.id},
        "merchant_id": {"S": payment.merchant_id},
        "amount": {"N": str(payment.amount)},
        "currency": {"S": payment.currency},
        "status": {"S": payment.status},
        "metadata": {"M": {k: {"S": v} for k, v in payment.metadata.items()}},
        "created_at": {"S": payment.created_at},
        "processor_payment_id": {"S": payment.processor_payment_id},
    }
    if payment.description is not None:
        item["description"] = {"S": payment.description}
    return item


def from_item(item: dict[str, Any]) -> StoredPayment:
    return StoredPayment(
        id=item["payment_id"]["S"],
        merchant_id=item["merchant_id"]["S"],
        amount=int(item["amount"]["N"]),
        currency=item["currency"]["S"],
        status=item["status"]["S"],
        description=item.get("description", {}).get("S"),
        metadata={k: v["S"] for k, v in item.get("metadata", {}).get("M", {}).items()},
        created_at=item["created_at"]["S"],
        # Items written before issue 9 named it charge_id.
        processor_payment_id=(item.get("processor_payment_id") or item["charge_id"])["S"],
    )


class DynamoDBPaymentsTable:
    def __init__(self, client: Callable[[], DynamoDBClient], table_name: str) -> None:
        self._client = client
        self._table = table_name

    def insert(self, payment: StoredPayment) -> dict[str, Any]:
        """A TransactWriteItems entry that creates the payment; its condition fails if the id exists."""
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(payment),
                "ConditionExpression": "attribute_not_exists(payment_id)",
            }
        }

    def get(self, payment_id: str) -> StoredPayment | None:
        try:
            response = self._client().get_item(
                TableName=self._table, Key={"payment_id": {"S": payment_id}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as error:
            if is_transient(error):
                raise PaymentsUnavailable(type(error).__name__) from error
            raise
        item = response.get("Item")
        return from_item(item) if item else None
