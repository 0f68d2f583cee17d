"""A refund as the refunds table keeps it, and as the merchant sees it. Knows nothing of HTTP, Lambda or
DynamoDB."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

# defer_build: off a first POST /payments, a validator built on first use, not at import.
from pydantic import BaseModel, ConfigDict, Field

RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]
RefundStatus = Literal["pending", "succeeded", "failed", "canceled"]


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
