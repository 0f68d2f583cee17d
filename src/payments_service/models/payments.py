"""A payment request, and what creating one records under its key (the payment itself: domain/stored_payments.py)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr

from .currencies import MINOR_UNIT_EXPONENTS
from .recorded import RecordedAnswer


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
    customer: Annotated[
        StrictStr | None,
        Field(
            pattern=r"^cus_[A-Za-z0-9]{1,250}$",
            description="The processor's customer (a Stripe `cus_…`) whose saved payment method `source` is",
        ),
    ] = None


class RecordedPayment(RecordedAnswer):
    """What a create-payment records under its key: replayed as is, whatever transport asks again.
    `body`: the public payment's JSON (created, requires_action)."""

    EARLIER_BODY_FIELD: ClassVar[str] = "payment_json"

    outcome: Literal["created", "requires_action", "declined"]
    payment_id: str | None = None
    decline_code: str | None = None
