"""Events a processor sends us (webhooks), verified and in the port's terms.

An event is a hint: it names an object and its state when sent. Events arrive at least once, in any
order, for days, so a consumer moves a payment or refund only forward along its life (see
domain/lifecycle.py) and ignores what is not ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .errors import Invalid
from .processor import ChargeStatus, RefundStatus


class InvalidSignature(Invalid):
    """The event is unsigned, signed with another secret, or signed too long ago (a replay): nothing changes."""


class InvalidEvent(Invalid):
    """The body is correctly signed but is not an event this API can read."""


@dataclass(frozen=True)
class ChargeEvent:
    event_id: str
    charge_id: str  # the processor's id (a PaymentIntent pi_…)
    reference: str | None  # our idempotency reference, from the object's metadata; None: not ours
    status: ChargeStatus
    decline_code: str | None = None


@dataclass(frozen=True)
class RefundEvent:
    event_id: str
    refund_id: str  # the processor's id (re_…)
    reference: str | None  # our refund's idempotency reference; None: not ours
    payment_id: str | None  # our payment id (pay_…), from the refund's metadata
    status: RefundStatus
    failure_reason: str | None = None


@dataclass(frozen=True)
class OtherEvent:
    """An event of a type this API does not act on: acknowledged, ignored."""

    event_id: str
    type: str


ProcessorEvent = ChargeEvent | RefundEvent | OtherEvent


class EventVerifier(Protocol):
    def verify(self, payload: bytes, signature: str | None) -> ProcessorEvent:
        """The event in `payload` (the raw body, byte for byte) if `signature` proves the processor sent it
        recently. InvalidSignature or InvalidEvent otherwise."""
