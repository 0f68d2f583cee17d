"""What the idempotency store holds for a key."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field


class Status(enum.StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    # Given up after a failure whose effect at the processor is unknown: the fingerprint and
    # processor reference stay, so the next try with the same request reuses the same reference.
    RELEASED = "RELEASED"


class StoredResponse(BaseModel):
    """A response recorded for replay, byte for byte."""

    model_config = ConfigDict(frozen=True)

    status_code: int
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = ""


class IdempotencyRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    record_id: str
    status: Status
    fingerprint: str
    processor_reference: str
    expires_at: int  # epoch seconds; the table's TTL attribute
    owner: str | None = None
    lease_expires_at_ms: int | None = None
    response: StoredResponse | None = None

    def is_expired(self, now_ms: int) -> bool:
        # DynamoDB TTL deletes lazily (up to days late), so expiry is checked, never assumed.
        return self.expires_at < now_ms // 1000

    def lease_active(self, now_ms: int) -> bool:
        return (
            self.status is Status.IN_PROGRESS
            and self.lease_expires_at_ms is not None
            and self.lease_expires_at_ms > now_ms
        )
