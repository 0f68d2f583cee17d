"""A deterministic processor for tests, the local run and demo stacks."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from ..domain.processor import (
    Charge,
    Declined,
    InvalidPaymentSource,
    ProcessorRefund,
    ProcessorUnavailable,
    RefundRefused,
)

_DECLINES = {"tok_chargeDeclined": "card_declined", "tok_insufficientFunds": "insufficient_funds"}
_SUCCEEDS = {"tok_visa", "tok_mastercard", "tok_slow", "tok_refundDeclined"}
# A charge made with tok_refundDeclined succeeds, but every refund of it is refused. Marked in the
# charge id, because a refund may run in another execution environment than its charge.
_NO_REFUNDS = "ch_norefund_"


class SandboxProcessor:
    """Deterministic by source token, idempotent by reference, like Stripe's test mode."""

    def __init__(self, slow_seconds: float = 3.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self._slow_seconds = slow_seconds
        self._sleep = sleep
        self._lock = threading.Lock()
        self.charges: dict[str, Charge] = {}  # reference -> charge, for tests and the local run
        self.calls = 0
        self.refunds: dict[str, tuple[ProcessorRefund, str, int]] = {}  # reference -> (refund, charge id, amount)
        self.refund_calls = 0

    def charge(
        self, *, reference: str, amount: int, currency: str, source: str, timeout_s: float | None = None
    ) -> Charge:
        # timeout_s is ignored: nothing here waits on a network. Its charge id is the payment's processor_payment_id.
        with self._lock:
            self.calls += 1
        if source == "tok_processingError":
            raise ProcessorUnavailable("sandbox processing error")
        if source in _DECLINES:
            raise Declined(_DECLINES[source])
        if source not in _SUCCEEDS:
            raise InvalidPaymentSource(source)
        if source == "tok_slow":
            self._sleep(self._slow_seconds)
        digest = hashlib.sha256(reference.encode()).hexdigest()
        charge = Charge(id=_NO_REFUNDS + digest[:12] if source == "tok_refundDeclined" else "ch_" + digest[:24])
        with self._lock:
            self.charges.setdefault(reference, charge)
        return charge

    def refund(self, *, reference: str, charge_id: str, amount: int, currency: str) -> ProcessorRefund:
        with self._lock:
            self.refund_calls += 1
        if charge_id.startswith(_NO_REFUNDS):
            raise RefundRefused("charge_not_refundable")
        refund = ProcessorRefund(id="pyr_" + hashlib.sha256(b"refund:" + reference.encode()).hexdigest()[:24])
        with self._lock:
            # Idempotent by reference: a second call with it refunds nothing more (Stripe answers the same).
            self.refunds.setdefault(reference, (refund, charge_id, amount))
        return refund
