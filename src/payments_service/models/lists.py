"""List responses: one page, newest or oldest first, with an opaque cursor to the next one."""

from __future__ import annotations

# defer_build: off a first POST /payments, a validator built on first use, not at import.
from pydantic import BaseModel, ConfigDict, Field

from ..domain.stored_payments import Payment
from ..domain.stored_refunds import Refund

NEXT_CURSOR = "Pass as `starting_after` to get the next page; null on the last page"


class PaymentList(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    data: list[Payment]
    has_more: bool
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class RefundList(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    data: list[Refund]
    has_more: bool
    next_cursor: str | None = Field(description=NEXT_CURSOR)
