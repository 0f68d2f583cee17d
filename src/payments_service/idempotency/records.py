"""What the idempotency store holds for a key."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict


class Status(enum.StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    # Given up after a failure whose downstream effect is unknown: fingerprint, reference and input
    # stay, so the next try (or a recovery job) reuses the same downstream reference.
    RELEASED = "RELEASED"
    # Decided, its business writes not all applied yet (a completion without a transaction): never handed to
    # the engine, since the store finishes it first (dal/sequential_completion.py).
    COMPLETING = "COMPLETING"


class IdempotencyRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    record_id: str
    status: Status
    fingerprint: str
    # Stable for the key's whole life: the caller passes it downstream as that system's own
    # idempotency reference, so a retry can never act twice there either.
    reference: str
    # When the reference was minted (claim time); takeovers keep it. A processor deduplicates a
    # reference only for a while, so an old one must not be sent again (engine's reference window).
    reference_created_at_ms: int | None = None  # None: written before this field existed
    expires_at: int  # epoch seconds; the table's TTL attribute
    # What a recovery job needs to finish the work without the original request.
    operation: str = ""
    payload: str = ""
    scope: str = ""  # whose key it is (the record id is only a hash of scope and key)
    owner: str | None = None
    lease_expires_at_ms: int | None = None
    result: str | None = None  # opaque to the engine: whatever the caller recorded on completion
    # Since when the outcome downstream is unknown, first (None: not in the recovery index). Takeovers and
    # recoveries keep it: it is the key's age for an operator, never its place in the recovery line.
    unknown_since_ms: int | None = None
    reconcile_attempts: int = 0  # recoveries that could not tell, since the key was last resolved
    parked: bool = False  # out of the recovery line after too many attempts: an operator (or a retry) resolves it

    def is_expired(self, now_ms: int) -> bool:
        # DynamoDB TTL deletes lazily (up to days late), so expiry is checked, never assumed.
        return self.expires_at < now_ms // 1000

    def lease_active(self, now_ms: int) -> bool:
        return (
            self.status is Status.IN_PROGRESS
            and self.lease_expires_at_ms is not None
            and self.lease_expires_at_ms > now_ms
        )
