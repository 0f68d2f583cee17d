"""A deterministic processor for tests, the local run and demo stacks."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

from ..domain.processor import (
    Charge,
    Charged,
    Declined,
    InvalidPaymentSource,
    Lookup,
    NotCharged,
    ProcessorRefund,
    ProcessorUnavailable,
    RefundRefused,
    Unknown,
)

_DECLINES = {"tok_chargeDeclined": "card_declined", "tok_insufficientFunds": "insufficient_funds"}
_SUCCEEDS = {"tok_visa", "tok_mastercard", "tok_slow", "tok_refundDeclined", "tok_lostResponse"}
# A charge made with tok_refundDeclined succeeds, but every refund of it is refused. Marked in the
# charge id, because a refund may run in another execution environment than its charge.
_NO_REFUNDS = "ch_norefund_"


class SandboxCharges(Protocol):
    """Where the sandbox keeps its charges, so any function (the API, the reconciler) can look one up."""

    def record(self, reference: str, charge_id: str) -> None:
        """Keep the charge (once per reference). ProcessorUnavailable on a transient failure."""

    def find(self, reference: str) -> str | None:
        """The charge id made under `reference`, or None. ProcessorUnavailable on a transient failure."""


class InMemoryCharges:
    """One process's charges: tests and callers without a charges table."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_reference: dict[str, str] = {}

    def record(self, reference: str, charge_id: str) -> None:
        with self._lock:
            self.by_reference.setdefault(reference, charge_id)

    def find(self, reference: str) -> str | None:
        with self._lock:
            return self.by_reference.get(reference)


class SandboxProcessor:
    """Deterministic by source token, idempotent by reference, like Stripe's test mode.

    `tok_lostResponse` charges, then fails as if the answer were lost on the way back.
    """

    def __init__(
        self,
        slow_seconds: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
        ledger: SandboxCharges | None = None,
    ) -> None:
        self._slow_seconds = slow_seconds
        self._sleep = sleep
        self._ledger = ledger or InMemoryCharges()
        self._lock = threading.Lock()
        self.charges: dict[str, Charge] = {}  # this process's charges by reference, for tests and the local run
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
        self._ledger.record(reference, charge.id)
        with self._lock:
            self.charges.setdefault(reference, charge)
        if source == "tok_lostResponse":
            raise ProcessorUnavailable("sandbox: charged, answer lost")
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

    def find(self, reference: str) -> Lookup:
        try:
            charge_id = self._ledger.find(reference)
        except ProcessorUnavailable:
            return Unknown()
        return Charged(Charge(charge_id)) if charge_id is not None else NotCharged()
