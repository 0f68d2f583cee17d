"""Typed business writes (from the domain) turned into TransactWriteItems entries."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..domain.payments import RecordDecline, RecordPayment
from .payments_table import DynamoDBPaymentsTable, declined_to_item, to_item

if TYPE_CHECKING:
    from .refunds_table import DynamoDBRefundsTable


class BusinessWrites:
    """The translator the idempotency store uses to commit business writes with a completion.

    Refund writes and the refunds table are reached only when a refund write comes: a payment's first
    request never loads the refund modules (tests/integration/test_cold_path.py)."""

    def __init__(
        self, payments: DynamoDBPaymentsTable, refunds: Callable[[], DynamoDBRefundsTable] | None = None
    ) -> None:
        self._payments = payments
        self._refunds = refunds

    def __call__(self, write: object) -> dict[str, Any]:
        if isinstance(write, RecordPayment):
            return self._payments.insert(to_item(write.payment))
        if isinstance(write, RecordDecline):
            return self._payments.insert(declined_to_item(write.declined))
        from ..domain.refunds import GiveBackRefund, RecordRefund, SettleRefund  # imported by whoever made one

        if isinstance(write, SettleRefund):
            return self._payments.settle(write)
        if isinstance(write, GiveBackRefund):
            return self._payments.give_back(write)
        if isinstance(write, RecordRefund) and self._refunds is not None:
            return self._refunds().insert(write.refund)
        raise TypeError(f"no DynamoDB write for {type(write).__name__}")
