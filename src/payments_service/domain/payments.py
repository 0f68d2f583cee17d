"""Charging and finding payments."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Protocol

from ..idempotency.clock import Clock
from ..models.payments import CreatePaymentRequest, StoredPayment
from .processor import PaymentProcessor


class PaymentsRepository(Protocol):
    def get(self, payment_id: str) -> StoredPayment | None: ...


def payment_id_for(reference: str) -> str:
    # Derived from the processor reference: a retry that reaches the commit again builds the same
    # id, and the payments table's attribute_not_exists condition refuses a second record.
    return "pay_" + hashlib.sha256(b"payment:" + reference.encode()).hexdigest()[:24]


def rfc3339(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PaymentService:
    def __init__(self, processor: PaymentProcessor, repository: PaymentsRepository, clock: Clock) -> None:
        self._processor = processor
        self._repository = repository
        self._clock = clock

    def charge(self, merchant_id: str, request: CreatePaymentRequest, reference: str) -> StoredPayment:
        """Charge the source; raises Declined, ProcessorUnavailable or InvalidPaymentSource."""
        charge = self._processor.charge(
            reference=reference, amount=request.amount, currency=request.currency, source=request.source
        )
        return StoredPayment(
            id=payment_id_for(reference),
            merchant_id=merchant_id,
            charge_id=charge.id,
            amount=request.amount,
            currency=request.currency,
            description=request.description,
            metadata=request.metadata,
            created_at=rfc3339(self._clock.now_ms()),
        )

    def find(self, merchant_id: str, payment_id: str) -> StoredPayment | None:
        """The merchant's payment, or None: another merchant's payment does not exist for them."""
        payment = self._repository.get(payment_id)
        if payment is None or payment.merchant_id != merchant_id:
            return None
        return payment
