"""Read a merchant's payment."""

from __future__ import annotations

from ..domain.payments import PaymentsRepository
from ..domain.stored_payments import Payment, StoredPayment


class GetPayment:
    def __init__(self, repository: PaymentsRepository) -> None:
        self._repository = repository

    def __call__(self, merchant: str, payment_id: str) -> StoredPayment | None:
        """The merchant's payment, or None: another merchant's payment does not exist for them."""
        if not Payment.ID_PATTERN.match(payment_id):
            return None
        payment = self._repository.get(payment_id)
        # A declined attempt is kept for audit and events; it never became a payment.
        if not isinstance(payment, StoredPayment) or payment.merchant_id != merchant:
            return None
        return payment
