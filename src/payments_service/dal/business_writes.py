"""Typed business writes (from the domain) turned into TransactWriteItems entries."""

from __future__ import annotations

from typing import Any

from ..domain.payments import RecordDecline, RecordPayment
from .payments_table import DynamoDBPaymentsTable, declined_to_item, to_item


class BusinessWrites:
    """The translator the idempotency store uses to commit business writes with a completion."""

    def __init__(self, payments: DynamoDBPaymentsTable) -> None:
        self._payments = payments

    def __call__(self, write: object) -> dict[str, Any]:
        if isinstance(write, RecordPayment):
            return self._payments.insert(to_item(write.payment))
        if isinstance(write, RecordDecline):
            return self._payments.insert(declined_to_item(write.declined))
        raise TypeError(f"no DynamoDB write for {type(write).__name__}")
