"""Read one refund of a merchant's payment."""

from __future__ import annotations

from ..domain.refunds import RefundsRepository
from ..domain.stored_payments import Payment
from ..domain.stored_refunds import Refund, StoredRefund


class GetRefund:
    def __init__(self, refunds: RefundsRepository) -> None:
        self._refunds = refunds

    def __call__(self, merchant: str, payment_id: str, refund_id: str) -> StoredRefund | None:
        """The refund, or None: another merchant's refund does not exist for them."""
        if not (Payment.ID_PATTERN.match(payment_id) and Refund.ID_PATTERN.match(refund_id)):
            return None
        refund = self._refunds.get(payment_id, refund_id)
        return refund if refund is not None and refund.merchant_id == merchant else None
