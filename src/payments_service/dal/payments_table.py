"""The payments table: one item per payment, written only inside the idempotency transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.payments import PaymentsUnavailable
from ..models.payments import DeclinedPayment, StoredPayment
from .errors import is_transient

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def declined_to_item(declined: DeclinedPayment) -> dict[str, Any]:
    item: dict[str, Any] = {
        "payment_id": {"S": declined.id},
        "merchant_id": {"S": declined.merchant_id},
        "amount": {"N": str(declined.amount)},
        "currency": {"S": declined.currency},
        "status": {"S": declined.status},
        "decline_code": {"S": declined.decline_code},
        "metadata": {"M": {k: {"S": v} for k, v in declined.metadata.items()}},
        "created_at": {"S": declined.created_at},
    }
    if declined.description is not None:
        item["description"] = {"S": declined.description}
    return item


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

    def insert(self, item: dict[str, Any]) -> dict[str, Any]:
        """A TransactWriteItems entry that creates a record; its condition fails if the id exists."""
        return {
            "Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(payment_id)"}
        }

    def get(self, payment_id: str) -> StoredPayment | DeclinedPayment | None:
        try:
            response = self._client().get_item(
                TableName=self._table, Key={"payment_id": {"S": payment_id}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as error:
            if is_transient(error):
                raise PaymentsUnavailable(type(error).__name__) from error
            raise
        item = response.get("Item")
        if not item:
            return None
        if item.get("status", {}).get("S") == "declined":
            return DeclinedPayment(
                id=item["payment_id"]["S"],
                merchant_id=item["merchant_id"]["S"],
                amount=int(item["amount"]["N"]),
                currency=item["currency"]["S"],
                decline_code=item["decline_code"]["S"],
                description=item.get("description", {}).get("S"),
                metadata={k: v["S"] for k, v in item.get("metadata", {}).get("M", {}).items()},
                created_at=item["created_at"]["S"],
            )
        return from_item(item)
