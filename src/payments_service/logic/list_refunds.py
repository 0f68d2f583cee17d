"""A payment's refunds, oldest first."""

from __future__ import annotations

from ..domain.pages import Page
from ..domain.refunds import PaymentNotFound, RefundBalances, RefundsRepository
from ..domain.stored_payments import Payment, StoredPayment
from ..domain.stored_refunds import StoredRefund


class ListRefunds:
    def __init__(self, balances: RefundBalances, refunds: RefundsRepository) -> None:
        self._balances = balances
        self._refunds = refunds

    def __call__(self, merchant: str, payment_id: str, limit: int, cursor: str | None) -> Page[StoredRefund]:
        """PaymentNotFound for another merchant's payment, even one without refunds."""
        if not Payment.ID_PATTERN.match(payment_id):
            raise PaymentNotFound(payment_id)
        payment = self._balances.get(payment_id)
        if not isinstance(payment, StoredPayment) or payment.merchant_id != merchant:
            raise PaymentNotFound(payment_id)  # a declined attempt is no payment to list refunds of
        return self._refunds.list(payment_id, limit, cursor)
