"""Refund request, response, stored item and what a refund records under its key."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

# defer_build: off a first POST /payments, a validator built on first use, not at import.
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from .recorded import RecordedAnswer

RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]
RefundStatus = Literal["pending", "succeeded", "failed", "canceled"]


class CreateRefundRequest(BaseModel):
    """Body of POST /payments/{payment_id}/refunds. Strict: no coercion, unknown fields rejected."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)

    amount: Annotated[
        StrictInt | None,
        Field(ge=1, le=99_999_999, description="Minor units to refund; absent: all that remains refundable"),
    ] = None
    reason: RefundReason | None = None


class Refund(BaseModel):
    """A refund, as returned to the merchant."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    ID_PATTERN: ClassVar[re.Pattern[str]] = re.compile(r"^re_[0-9a-f]{24}$")

    id: str = Field(pattern=ID_PATTERN.pattern)
    payment_id: str
    amount: int
    currency: str
    status: RefundStatus = Field(
        default="succeeded",
        description="pending or succeeded: accepted by the processor (counted as refunded); failed or canceled: "
        "returned by the bank or the processor later, and given back to what remains refundable",
    )
    reason: RefundReason | None = None
    created_at: str = Field(description="RFC 3339 timestamp, UTC")


class StoredRefund(Refund):
    """Refunds-table item: the refund plus what the API never shows."""

    merchant_id: str
    processor_refund_id: str
    reference: str  # the processor idempotency reference it was made under
    failure_reason: str | None = None  # failed or canceled: the processor's reason (kept, not shown)
    next_check_ms: int | None = None  # pending: when the reconciler asks the processor about it next

    def public(self) -> Refund:
        return Refund.model_validate(self.model_dump(include=set(Refund.model_fields)))

    def public_json(self) -> str:
        return self.public().model_dump_json()


class RecordedRefund(RecordedAnswer):
    """What a create-refund records under its key: replayed as is. `body`: the public refund's JSON (created)."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    EARLIER_BODY_FIELD: ClassVar[str] = "refund_json"

    outcome: Literal["created", "refused"]
    payment_id: str
    refund_id: str | None = None
    refusal_code: str | None = None  # the processor's reason, when it refused the refund
