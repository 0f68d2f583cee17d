"""Apply what a processor tells us (a verified webhook event) to our payments and refunds.

An event is a hint about one object. It moves the payment or refund it names only forward along its
life (domain/lifecycle.py), so every delivery of one event, and any order of many, ends in the same
state; a refund that failed is given back exactly once. That is what makes processing idempotent by
event id without remembering event ids: a second delivery finds nothing left to move. An event
about an object that is not ours (no reference of ours in its metadata), or that we have not recorded
yet (its answer was lost: the reconciler records it from the processor's own state), is acknowledged
and ignored, never an error that makes the processor retry for days.
"""

from __future__ import annotations

from typing import Literal

from ..domain.lifecycle import GIVES_BACK, PaymentState, PaymentStates, RefundStates
from ..domain.payments import payment_id_for
from ..domain.processor import RefundStatus
from ..domain.processor_events import ChargeEvent, ProcessorEvent, RefundEvent
from ..domain.refunds import RefundsRepository, refund_id_for
from ..domain.stored_payments import Payment
from ..domain.stored_refunds import StoredRefund

EventOutcome = Literal["applied", "unchanged", "ignored"]
# What a processor's charge status means for a payment we recorded; other statuses are no news to us.
_PAYMENT_NEWS: dict[str, PaymentState] = {"succeeded": "succeeded", "failed": "failed", "canceled": "canceled"}


class ApplyProcessorEvent:
    def __init__(self, payments: PaymentStates, refunds: RefundsRepository, refund_states: RefundStates) -> None:
        self._payments = payments
        self._refunds = refunds
        self._refund_states = refund_states

    def __call__(self, event: ProcessorEvent) -> EventOutcome:
        """applied: something moved; unchanged: already there or further along; ignored: not ours, or not
        recorded yet. PaymentsUnavailable or RefundsUnavailable when a store fails (the event is retried)."""
        if isinstance(event, ChargeEvent):
            return self._charge(event)
        if isinstance(event, RefundEvent):
            return self._refund(event)
        return "ignored"

    def _charge(self, event: ChargeEvent) -> EventOutcome:
        new = _PAYMENT_NEWS.get(event.status)
        if event.reference is None or new is None:
            return "ignored"
        moved = self._payments.move(payment_id_for(event.reference), new, decline_code=event.decline_code)
        return "applied" if moved else "unchanged"

    def _refund(self, event: RefundEvent) -> EventOutcome:
        if event.reference is None or event.payment_id is None or not Payment.ID_PATTERN.match(event.payment_id):
            return "ignored"
        refund = self._refunds.get(event.payment_id, refund_id_for(event.reference))
        if refund is None or refund.processor_refund_id != event.refund_id:
            return "ignored"
        return apply_refund_status(self._refund_states, refund, event.status, event.failure_reason)


def apply_refund_status(
    states: RefundStates, refund: StoredRefund, status: RefundStatus, failure_reason: str | None
) -> EventOutcome:
    """Move a recorded refund to the processor's `status`; a failed or canceled one gives its amount back
    first (exactly once), so that a refund shown failed has always been given back. Shared with the
    reconciler's follow-up of pending refunds."""
    if status in GIVES_BACK:
        given_back = states.give_back(refund)
        moved = states.move(refund, status, failure_reason=failure_reason)
        return "applied" if given_back or moved else "unchanged"
    if status == "succeeded":
        return "applied" if states.move(refund, "succeeded") else "unchanged"
    return "unchanged"
