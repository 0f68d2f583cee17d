"""Finish a refund whose answer was lost, from what its key stored at claim (the reconciler's refund case).

The key's payload names the payment; the payment's reservation under the key's reference holds the
amount. Looked up at the processor by that reference (a consistent read):
  refunded      -> completed exactly as the request would have (create_refund's one builder);
  not refunded  -> refunded now under the SAME reference (the reservation is still pending under it:
                   the processor deduplicates, so a refund that lands late is never doubled), then recorded;
  unknown       -> still unknown.
Final refusals end the key as the request itself would have: refused at the processor -> the refusal is
recorded and the reservation given back; the payment gone or declined -> the key is forgotten (nothing
was ever reserved on it), so a retry is answered afresh with its 404 or 409.
"""

from __future__ import annotations

import time

from ..domain.processor import (
    NotRefunded,
    PaymentProcessor,
    ProcessorRefund,
    ProcessorUnavailable,
    Refunded,
    RefundRefused,
)
from ..domain.refunds import PaymentDeclined, PaymentNotFound, RefundBalances
from ..domain.stored_payments import StoredPayment
from ..idempotency import Claim, Completion, IdempotencyRecord, Verdict
from ..idempotency.clock import Clock
from .create_refund import payment_to_refund, refund_at_processor, refund_refused, refunded, request_from_payload


class RecoverRefund:
    def __init__(self, balances: RefundBalances, processor: PaymentProcessor, clock: Clock) -> None:
        self._balances = balances
        self._processor = processor
        self._clock = clock

    def __call__(
        self, record: IdempotencyRecord, claim: Claim, timeout_s: float | None = None
    ) -> tuple[Completion | Verdict, str]:
        """The key's completion or verdict, and the result's name for the run's metrics. `timeout_s` bounds the
        processor calls (the lookup, and the refund made under the same reference if none was found)."""
        payment_id, request = request_from_payload(record.payload)
        try:
            payment = payment_to_refund(self._balances, record.scope, payment_id)
        except (PaymentNotFound, PaymentDeclined):
            return Verdict.FORGET, "refused"
        amount = payment.reservations.get(claim.reference)  # pending only
        if amount is None:
            if claim.reference in payment.closed_reservations:
                return Verdict.UNKNOWN, "still_unknown"  # closed without its key completing: an operator looks
            # Never reserved, so never sent to the processor: a retry reserves and refunds afresh.
            return Verdict.NOT_DONE, "not_refunded"
        # The request's time, not this run's: the refund was asked for when its reference was minted.
        created_at_ms = record.reference_created_at_ms or self._clock.now_ms()
        try:
            made = self._made(payment, claim.reference, amount, record.reference_created_at_ms, timeout_s)
        except RefundRefused as refused:
            return refund_refused(payment.id, claim.reference, amount, refused.code), "refused"
        if made is None:
            return Verdict.UNKNOWN, "still_unknown"
        return refunded(payment, request.reason, claim.reference, amount, made, created_at_ms=created_at_ms), "refunded"

    def _made(
        self, payment: StoredPayment, reference: str, amount: int, minted_ms: int | None, timeout_s: float | None
    ) -> ProcessorRefund | None:
        """The refund under `reference`: found, or made now under it; None while the processor cannot say."""
        ends = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            found = self._processor.find_refund(
                reference=reference,
                charge_id=payment.processor_payment_id,
                not_before_ms=minted_ms,
                timeout_s=timeout_s,
            )
            if isinstance(found, NotRefunded):
                left_s = None if ends is None else ends - time.monotonic()
                return refund_at_processor(self._processor, payment, reference, amount, left_s)
        except ProcessorUnavailable:
            return None
        return found.refund if isinstance(found, Refunded) else None
