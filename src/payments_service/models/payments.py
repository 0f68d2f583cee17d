"""Payment request, response and stored item."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from iso4217 import Currency as Iso4217
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr

# ISO 4217's list (the iso4217 package ships it) without the codes that have no minor unit: metals,
# funds and test codes (XAU, XDR, XTS, XXX...) are not money a card is charged in.
MINOR_UNIT_EXPONENTS: dict[str, int] = {c.code: c.exponent for c in Iso4217 if c.exponent is not None}


def _payable_currency(code: str) -> str:
    if code not in MINOR_UNIT_EXPONENTS:
        raise ValueError("not an ISO 4217 currency code with a minor unit")  # the input is never echoed
    return code


Currency = Annotated[
    StrictStr,
    Field(
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code, upper case. `amount` counts its minor unit: 10^exponent of them make one unit "
        "(x-minor-unit-exponents: USD 2, JPY 0, BHD 3)",
        json_schema_extra={"enum": sorted(MINOR_UNIT_EXPONENTS), "x-minor-unit-exponents": MINOR_UNIT_EXPONENTS},
    ),
    AfterValidator(_payable_currency),
]
MetadataKey = Annotated[StrictStr, Field(min_length=1, max_length=40)]
MetadataValue = Annotated[StrictStr, Field(max_length=500)]


class CreatePaymentRequest(BaseModel):
    """Body of POST /payments. Strict: no coercion, unknown fields rejected."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    amount: Annotated[
        StrictInt,
        Field(
            ge=1,
            le=99_999_999,
            description="Minor units (cents), as a JSON integer literal: 100.0 and 1e2 are rejected",
        ),
    ]
    currency: Currency
    source: Annotated[StrictStr, Field(min_length=1, max_length=255, description="Payment-method token")]
    description: Annotated[StrictStr | None, Field(max_length=500)] = None
    metadata: Annotated[dict[MetadataKey, MetadataValue], Field(max_length=20)] = Field(default_factory=dict)


PaymentStatus = Literal["succeeded", "partially_refunded", "refunded"]


def refund_status(amount: int, amount_refunded: int) -> PaymentStatus:
    """What the merchant sees: only settled refunds count (a pending one may still be given back)."""
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


class StoredPayment(Payment):
    """Payments-table item: the payment plus what the API never shows."""

    merchant_id: str
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
        shown["status"] = refund_status(self.amount, self.amount_refunded)
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


class RecordedPayment(BaseModel):
    """What a create-payment records under its key: replayed as is, whatever transport asks again."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["created", "declined"]
    payment_id: str | None = None
    payment_json: str | None = None  # the public payment, byte for byte as first answered
    decline_code: str | None = None
