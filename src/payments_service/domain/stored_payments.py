"""A payment as the payments table keeps it, and as the merchant sees it; a declined attempt kept for audit.
Knows nothing of HTTP, Lambda or DynamoDB."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

# Where a payment is in its life, as stored: requires_action (the customer must authenticate: 3-D Secure)
# -> succeeded, failed or canceled (domain/lifecycle.py says which moves are allowed).
ChargeState = Literal["requires_action", "succeeded", "failed", "canceled"]
# What the merchant sees: a succeeded payment's status follows its refunds.
PaymentStatus = Literal["requires_action", "succeeded", "partially_refunded", "refunded", "failed", "canceled"]
# Shown only while they mean something: the customer's next step of a payment awaiting them.
_WHILE_AWAITING_CUSTOMER = ("next_action", "client_secret")


def _unset(value: object) -> bool:
    return value is None


def refund_status(amount: int, amount_refunded: int) -> PaymentStatus:
    """What the merchant sees of a succeeded payment: refunds accepted by the processor count (a pending
    one included: it may still fail, and is then given back)."""
    if amount_refunded <= 0:
        return "succeeded"
    return "refunded" if amount_refunded >= amount else "partially_refunded"


class Payment(BaseModel):
    """A succeeded payment, as returned to the merchant and stored."""

    model_config = ConfigDict(frozen=True)
    ID_PATTERN: ClassVar[re.Pattern[str]] = re.compile(r"^pay_[0-9a-f]{24}$")

    id: str = Field(pattern=ID_PATTERN.pattern)
    amount: int
    amount_refunded: int = Field(default=0, description="Minor units refunded so far (settled refunds only)")
    currency: str
    status: PaymentStatus = "succeeded"
    description: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: str = Field(description="RFC 3339 timestamp, UTC")
    processor_payment_id: str = Field(
        description="The processor's id for this payment (a Stripe PaymentIntent `pi_…`), to reconcile with it"
    )
    # Absent rather than null when unset: a payment's JSON keeps the shape it had before they existed.
    customer: str | None = Field(
        default=None, exclude_if=_unset, description="The processor's customer, when the request named one"
    )
    next_action: dict[str, Any] | None = Field(
        default=None,
        exclude_if=_unset,
        description="requires_action only: what the customer must do, as the processor describes it "
        "(Stripe's `next_action`); hand it to Stripe.js `handleNextAction` with `client_secret`",
    )
    client_secret: str | None = Field(
        default=None,
        exclude_if=_unset,
        description="requires_action only: the processor's client secret for the merchant's page (Stripe.js); "
        "not a credential of the merchant's account, but never log it",
    )
    decline_code: str | None = Field(
        default=None, exclude_if=_unset, description="failed only: why the processor's last attempt failed"
    )


class StoredPayment(Payment):
    """Payments-table item: the payment plus what the API never shows."""

    merchant_id: str
    state: ChargeState = "succeeded"  # where it is in its life; `status` is what the merchant sees
    awaiting_since_ms: int | None = None  # requires_action: since when (the reconciler cancels the abandoned)
    next_check_ms: int | None = None  # requires_action: when the reconciler asks the processor about it next
    # Refund accounting (see domain/refunds.py): refunded + pending + available == amount.
    amount_pending: int = 0  # reserved by refunds whose processor call has not settled yet
    reservations: dict[str, int] = Field(default_factory=dict)  # pending: refund reference -> amount reserved
    # Settled or given back, kept so that no reference can ever be reserved again (a stale owner would).
    closed_reservations: dict[str, int] = Field(default_factory=dict)
    accounted: bool = True  # False for an item written before refunds existed (no balance attributes yet)

    @property
    def amount_available(self) -> int:
        return self.amount - self.amount_refunded - self.amount_pending

    def reserved_under(self, reference: str) -> int | None:
        """The amount a refund with this reference reserved, pending or closed; None if it never did."""
        return self.reservations.get(reference, self.closed_reservations.get(reference))

    def public(self) -> Payment:
        """The payment as the API shows it: never the merchant or the reservations."""
        shown = self.model_dump(include=set(Payment.model_fields))
        shown["status"] = refund_status(self.amount, self.amount_refunded) if self.state == "succeeded" else self.state
        if self.state != "requires_action":
            for name in _WHILE_AWAITING_CUSTOMER:
                shown[name] = None
        return Payment.model_validate(shown)

    def public_json(self) -> str:
        return self.public().model_dump_json()


class DeclinedPayment(BaseModel):
    """Payments-table item of a declined attempt: kept for audit and payment events, never a payment to read."""

    model_config = ConfigDict(frozen=True)

    id: str
    merchant_id: str
    amount: int
    currency: str
    status: Literal["declined"] = "declined"
    decline_code: str
    description: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: str
