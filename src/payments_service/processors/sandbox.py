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
    ChargeState,
    Declined,
    InvalidPaymentSource,
    Lookup,
    NotCharged,
    NotRefunded,
    ProcessorRefund,
    ProcessorUnavailable,
    Refunded,
    RefundLookup,
    RefundRefused,
    Unknown,
)

_DECLINES = {"tok_chargeDeclined": "card_declined", "tok_insufficientFunds": "insufficient_funds"}
_SUCCEEDS = {
    "tok_visa",
    "tok_mastercard",
    "tok_slow",
    "tok_refundDeclined",
    "tok_lostResponse",
    "tok_refundPending",
    "tok_threeDSecureRequired",
}
# What a charge's token decides for later calls is marked in its id, because a refund or a lookup may
# run in another execution environment than the charge: tok_refundDeclined succeeds but every refund of
# it is refused; tok_refundPending's refunds stay pending; tok_threeDSecureRequired awaits its customer.
_NO_REFUNDS = "ch_norefund_"
_PENDING_REFUNDS = "ch_refpending_"
_NEEDS_CUSTOMER = "ch_3ds_"
_MARKS = {"tok_refundDeclined": _NO_REFUNDS, "tok_refundPending": _PENDING_REFUNDS}


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
        self.canceled: set[str] = set()

    def charge(
        self,
        *,
        reference: str,
        amount: int,
        currency: str,
        source: str,
        timeout_s: float | None = None,
        customer: str | None = None,
        off_session: bool = False,
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
        if source == "tok_threeDSecureRequired" and off_session:
            raise Declined("authentication_required")  # nobody is there to authenticate
        if source == "tok_slow":
            self._sleep(self._slow_seconds)
        digest = hashlib.sha256(reference.encode()).hexdigest()
        if source == "tok_threeDSecureRequired":
            charge = _awaiting_customer(_NEEDS_CUSTOMER + digest[:16])
        else:
            mark = _MARKS.get(source)
            charge = Charge(id=mark + digest[:12] if mark else "ch_" + digest[:24])
        self._ledger.record(reference, charge.id)
        with self._lock:
            self.charges.setdefault(reference, charge)
        if source == "tok_lostResponse":
            raise ProcessorUnavailable("sandbox: charged, answer lost")
        return charge

    def refund(
        self,
        *,
        reference: str,
        charge_id: str,
        amount: int,
        currency: str,
        payment_id: str | None = None,
        timeout_s: float | None = None,
    ) -> ProcessorRefund:
        with self._lock:
            self.refund_calls += 1
        if charge_id.startswith(_NO_REFUNDS):
            raise RefundRefused("charge_not_refundable")
        refund = _refund_of(_refund_id(reference), charge_id)
        self._ledger.record(reference, refund.id)
        with self._lock:
            # Idempotent by reference: a second call with it refunds nothing more (Stripe answers the same).
            self.refunds.setdefault(reference, (refund, charge_id, amount))
        return refund

    def find(self, reference: str, *, not_before_ms: int | None = None, timeout_s: float | None = None) -> Lookup:
        try:
            charge_id = self._ledger.find(reference)
        except ProcessorUnavailable:
            return Unknown()
        if charge_id is None:
            return NotCharged()
        return Charged(_awaiting_customer(charge_id) if charge_id.startswith(_NEEDS_CUSTOMER) else Charge(charge_id))

    def find_refund(
        self, *, reference: str, charge_id: str, not_before_ms: int | None = None, timeout_s: float | None = None
    ) -> RefundLookup:
        try:
            refund_id = self._ledger.find(reference)
        except ProcessorUnavailable:
            return Unknown()
        return Refunded(_refund_of(refund_id, charge_id)) if refund_id is not None else NotRefunded()

    def charge_state(self, charge_id: str, *, timeout_s: float | None = None) -> ChargeState:
        with self._lock:
            if charge_id in self.canceled:
                return ChargeState(charge_id, "canceled")
        return ChargeState(charge_id, "requires_action" if charge_id.startswith(_NEEDS_CUSTOMER) else "succeeded")

    def cancel(self, charge_id: str, *, timeout_s: float | None = None) -> ChargeState:
        if not charge_id.startswith(_NEEDS_CUSTOMER):
            return ChargeState(charge_id, "succeeded")  # nothing awaits a customer: answered as it is
        with self._lock:
            self.canceled.add(charge_id)
        return ChargeState(charge_id, "canceled")

    def refund_state(self, refund_id: str, *, timeout_s: float | None = None) -> ProcessorRefund:
        with self._lock:
            found = next((r for r, _, _ in self.refunds.values() if r.id == refund_id), None)
        return found or ProcessorRefund(refund_id)


def _awaiting_customer(charge_id: str) -> Charge:
    """A sandbox charge that needs 3-D Secure: shaped like Stripe's `use_stripe_sdk` next action."""
    return Charge(
        charge_id,
        status="requires_action",
        next_action={"type": "use_stripe_sdk"},
        client_secret=f"{charge_id}_secret_sandbox",
    )


def _refund_id(reference: str) -> str:
    return "pyr_" + hashlib.sha256(b"refund:" + reference.encode()).hexdigest()[:24]


def _refund_of(refund_id: str, charge_id: str) -> ProcessorRefund:
    return ProcessorRefund(refund_id, status="pending" if charge_id.startswith(_PENDING_REFUNDS) else "succeeded")
