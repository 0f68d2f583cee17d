"""What a refund is, how it may never exceed its payment, and the ports refunds need.

A payment item carries its balance: refunded + pending + available == amount. A refund first
*reserves* (available -> pending, one conditional write keyed by the refund's processor reference),
then calls the processor, then *settles* (pending -> refunded) in the transaction that records its
answer, or *gives back* (pending -> available) when the processor refused it for good.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from .errors import Busy, Conflict, PaymentsError, Refused, Transient
from .pages import Page
from .stored_payments import DeclinedPayment, StoredPayment
from .stored_refunds import StoredRefund


class PaymentNotFound(Refused):
    """No such payment for this merchant (another merchant's payment does not exist for them)."""


class PaymentDeclined(Refused):
    """The payment was declined: nothing was charged, so there is nothing to refund."""


class PaymentNotSucceeded(PaymentDeclined):
    """The payment awaits its customer, failed or was canceled: nothing was charged, nothing to refund yet."""


class RefundExceedsPayment(Refused):
    """The refund asks for more than remains refundable; nothing was reserved."""

    def __init__(self, remaining: int) -> None:
        super().__init__(f"at most {remaining} remains refundable")
        self.remaining = remaining


# Refunds one payment may have, ever (Stripe-like). A payment item keeps every reservation (no reference is
# ever reserved twice), so this also keeps the item far below DynamoDB's 400 KB: the reservation's
# condition enforces it (size() of the reservations map).
MAX_REFUNDS_PER_PAYMENT = 100


class TooManyRefunds(Refused):
    """The payment already has MAX_REFUNDS_PER_PAYMENT refunds; nothing was reserved."""


class PaymentBusy(Busy):
    """Refunds without an amount kept racing others for the payment's balance; nothing was reserved."""


class RefundConflict(Conflict):
    """A refund's settlement was refused although its key was ours: an operator must look."""


class RefundsUnavailable(Transient):
    """The refund store could not be read or written right now (the write may have applied)."""


@dataclass(frozen=True)
class Reservation:
    payment_id: str
    reference: str  # the refund's processor reference: one reservation per reference, ever
    record_id: str  # the idempotency record that owns it, for whoever must resolve it later
    amount: int


class ReservationRefused(PaymentsError):
    """The reservation's condition failed: a signal to the refund use case, which decides from `current`, the
    payment as stored now (None if absent)."""

    def __init__(self, current: StoredPayment | None) -> None:
        super().__init__("reservation refused")
        self.current = current


@dataclass(frozen=True)
class SettleRefund:
    """A business write: the reservation under `reference` becomes refunded (pending -> refunded)."""

    payment_id: str
    reference: str
    amount: int


@dataclass(frozen=True)
class GiveBackRefund:
    """A business write: the reservation under `reference` is returned (pending -> available)."""

    payment_id: str
    reference: str
    amount: int


@dataclass(frozen=True)
class RecordRefund:
    """A business write: create the refund item, refused if one with its id exists."""

    refund: StoredRefund


class RefundBalances(Protocol):
    """The payment side of refunds."""

    def get(self, payment_id: str) -> StoredPayment | DeclinedPayment | None:
        """A consistent read (a declined attempt too). PaymentsUnavailable on a transient failure."""

    def reserve(self, payment: StoredPayment, reservation: Reservation) -> None:
        """Move `amount` from available to pending under the reference, only if that much is available, the
        reference holds no reservation and the payment has fewer than MAX_REFUNDS_PER_PAYMENT reservations.
        ReservationRefused otherwise; RefundsUnavailable if unknown."""


class RefundsRepository(Protocol):
    def get(self, payment_id: str, refund_id: str) -> StoredRefund | None:
        """The refund, or None. RefundsUnavailable on a transient failure."""

    def list(self, payment_id: str, limit: int, cursor: str | None) -> Page[StoredRefund]:
        """Oldest first. InvalidCursor if `cursor` is not one this list handed out."""


def refund_id_for(reference: str) -> str:
    # Derived from the reference, like payment ids: a retry that reaches the settlement builds the same id.
    return "re_" + hashlib.sha256(b"refund:" + reference.encode()).hexdigest()[:24]
