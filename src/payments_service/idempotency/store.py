"""The port the idempotency service needs from a store; dal/ implements it on DynamoDB."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from .records import IdempotencyRecord, StoredResponse


class StoreUnavailable(Exception):
    """Throttled, timed out or a server error: the call may be retried later."""


class RecordConflict(Exception):
    """A conditional write failed. `current` is the item as the store holds it now (None if absent)."""

    def __init__(self, current: IdempotencyRecord | None) -> None:
        super().__init__("conditional write failed")
        self.current = current


class IdempotencyStore(Protocol):
    def put_new(self, record: IdempotencyRecord, now_ms: int) -> None:
        """Create the record unless a live one exists (absent or past retention). RecordConflict otherwise."""

    def take_over(
        self, existing: IdempotencyRecord, owner: str, lease_expires_at_ms: int, now_ms: int, expires_at: int
    ) -> None:
        """Own `existing` if it is still RELEASED, or IN_PROGRESS with its lease ended; renew its retention to
        `expires_at`. RecordConflict otherwise."""

    def complete(self, record_id: str, owner: str, response: StoredResponse, writes: Sequence[Any]) -> None:
        """Mark COMPLETED with the response and apply `writes` in the same transaction, if I still own it."""

    def release(self, record_id: str, owner: str) -> None:
        """Mark RELEASED (keeping fingerprint and processor reference), if I still own it."""

    def forget(self, record_id: str, owner: str) -> None:
        """Delete the record, if I still own it and it is in progress."""
