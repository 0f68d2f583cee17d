"""Refund request, response, stored item and what a refund records under its key."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

# defer_build: off a first POST /payments, a validator built on first use, not at import.
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ..domain.stored_refunds import RefundReason
from .recorded import RecordedAnswer


class CreateRefundRequest(BaseModel):
    """Body of POST /payments/{payment_id}/refunds. Strict: no coercion, unknown fields rejected."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)

    amount: Annotated[
        StrictInt | None,
        Field(ge=1, le=99_999_999, description="Minor units to refund; absent: all that remains refundable"),
    ] = None
    reason: RefundReason | None = None


class RecordedRefund(RecordedAnswer):
    """What a create-refund records under its key: replayed as is. `body`: the public refund's JSON (created)."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    EARLIER_BODY_FIELD: ClassVar[str] = "refund_json"

    outcome: Literal["created", "refused"]
    payment_id: str
    refund_id: str | None = None
    refusal_code: str | None = None  # the processor's reason, when it refused the refund
