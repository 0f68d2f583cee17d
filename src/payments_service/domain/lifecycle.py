"""Which way a payment or a refund may move. Processor events come at least once and in any order, and a
lookup may be older than an event: a state is only ever replaced by one further along, so applying the
same news twice, or old news late, changes nothing.

Payment: requires_action -> failed -> succeeded | canceled. "failed" is not final (the customer may
authenticate again on the same PaymentIntent); succeeded and canceled are.
Refund: pending -> succeeded -> failed | canceled. A succeeded refund can still fail (the bank returns
it days later); failed and canceled are final, and give the amount back exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .stored_payments import ChargeState
from .stored_refunds import RefundStatus, StoredRefund

PaymentState = ChargeState  # a stored payment's state, not the status the merchant sees
RefundState = RefundStatus

_PAYMENT_RANK: dict[str, int] = {"requires_action": 0, "failed": 1, "succeeded": 2, "canceled": 2}
_REFUND_RANK: dict[str, int] = {"pending": 0, "succeeded": 1, "failed": 2, "canceled": 2}
GIVES_BACK: frozenset[str] = frozenset({"failed", "canceled"})  # a refund in these returned nothing


def payment_moves(current: str, new: str) -> bool:
    """Whether a payment in `current` takes `new` (a state this API records; others are not news)."""
    return new in _PAYMENT_RANK and _PAYMENT_RANK[new] > _PAYMENT_RANK.get(current, 2)


def payment_sources(new: str) -> tuple[str, ...]:
    """The states a payment may be in to move to `new`: the condition of the write that moves it."""
    return tuple(state for state in _PAYMENT_RANK if payment_moves(state, new))


def refund_moves(current: str, new: str) -> bool:
    return new in _REFUND_RANK and _REFUND_RANK[new] > _REFUND_RANK.get(current, 2)


def refund_sources(new: str) -> tuple[str, ...]:
    return tuple(state for state in _REFUND_RANK if refund_moves(state, new))


@dataclass(frozen=True)
class FollowUp:
    """An item the reconciler must ask the processor about again (a payment awaiting its customer, a
    pending refund): found through a sparse index, never a scan."""

    item_id: str  # the payment id; for a refund, its refund id
    parent_id: str  # for a refund, its payment id; for a payment, its own id
    processor_id: str
    since_ms: int  # awaiting or pending since then


class PaymentStates(Protocol):
    def move(self, payment_id: str, new: PaymentState, *, decline_code: str | None = None) -> bool:
        """Move the payment to `new` if that is forward from where it is (payment_sources); False if it was not
        (already there or further, or no such payment). PaymentsUnavailable on a transient failure."""

    def awaiting(self, due_by_ms: int, limit: int) -> list[FollowUp]:
        """Payments awaiting their customer whose next check is due by `due_by_ms`, at most `limit`."""

    def check_later(self, payment_id: str, next_check_ms: int) -> None:
        """Look at it again then (only while it still awaits its customer)."""


class RefundStates(Protocol):
    def move(self, refund: StoredRefund, new: RefundState, *, failure_reason: str | None = None) -> bool:
        """Move the refund to `new` if forward (refund_sources). RefundsUnavailable on a transient failure."""

    def give_back(self, refund: StoredRefund) -> bool:
        """The payment's settled reservation of this refund becomes refundable again (refunded -> available),
        exactly once however often it is called; False if it already was (or was never settled)."""

    def pending(self, due_by_ms: int, limit: int) -> list[FollowUp]:
        """Refunds the processor has not finished whose next check is due by `due_by_ms`, at most `limit`."""

    def check_later(self, refund: StoredRefund, next_check_ms: int) -> None:
        """Look at it again then (only while it is still pending)."""
