"""The port the engine needs from a store; dal/ implements it on DynamoDB, memory_store.py in memory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .errors import IdempotencyError
from .records import IdempotencyRecord


class StoreUnavailable(IdempotencyError):
    """Throttled, timed out or a server error: retry helps (the write may have applied). Where a key is held the
    engine turns it into TemporarilyUnavailable; the recovery index's reads (unresolved) pass it on."""


class RecordConflict(IdempotencyError):
    """The key's own condition failed: a signal to the engine, which answers from `current`, the item as the
    store holds it now (None if absent)."""

    def __init__(self, current: IdempotencyRecord | None) -> None:
        super().__init__("conditional write failed")
        self.current = current


class WriteRejected(IdempotencyError):
    """A business write's own condition failed, so nothing of the completion was applied. Propagated by the
    engine to its caller, which knows what the write meant (a payment or refund recorded inconsistently)."""

    def __init__(self, write: object) -> None:
        super().__init__(f"business write rejected: {type(write).__name__}")
        self.write = write


class IdempotencyStore(Protocol):
    def get(self, record_id: str) -> IdempotencyRecord | None:
        """The record as last written (a consistent read), or None. StoreUnavailable on a transient failure."""

    def put_new(self, record: IdempotencyRecord, now_ms: int) -> None:
        """Create the record unless a live one exists (absent or past retention). RecordConflict otherwise.

        An IN_PROGRESS record is unresolved from its lease's end on, until completed, forgotten or released
        as resolved: a holder that dies is found by a recovery job without a scan."""

    def take_over(
        self, existing: IdempotencyRecord, owner: str, lease_expires_at_ms: int, now_ms: int, expires_at: int
    ) -> None:
        """Own `existing` if it is still RELEASED, or IN_PROGRESS with its lease ended; renew its retention to
        `expires_at`; unresolved from the new lease's end on. RecordConflict otherwise."""

    def complete(self, record_id: str, owner: str, result: str, writes: Sequence[object]) -> None:
        """Mark COMPLETED with `result` and apply the typed business `writes` atomically, if I still own it:
        in one transaction, or in sequence behind a decision on the key that every later read finishes first,
        so no caller ever sees a completion half applied.

        RecordConflict if the key is no longer mine; WriteRejected if a write's own condition failed (nothing
        of the completion then stays applied); StoreUnavailable if unknown."""

    def release(
        self,
        record_id: str,
        owner: str,
        unknown_since_ms: int | None = None,
        *,
        looked_at_ms: int | None = None,
        attempts: int | None = None,
        parked: bool = False,
    ) -> None:
        """Mark RELEASED (keeping fingerprint, reference and input), if I still own it.

        unknown_since_ms: the downstream outcome is unknown since then, so a recovery job should look
        at it once it is old enough; None: nothing happened downstream, nothing to recover (only a
        client's retry resumes the key). A recovery that could not tell passes `looked_at_ms` (the key's
        place in the recovery line: behind every key not looked at since), its `attempts` so far, and
        `parked` to take it out of the line (an operator or a client's retry still resolves it)."""

    def unresolved(self, in_line_before_ms: int, limit: int) -> list[str]:
        """Ids of unparked records whose outcome is unknown, in line since before `in_line_before_ms` (released
        unknown, or in progress with the lease ended then, or last looked at by a recovery then), longest in
        line first, at most `limit`. An index, never a scan."""

    def count_unresolved(self, in_line_before_ms: int, cap: int) -> int:
        """How many unparked records are in line since before `in_line_before_ms`, counting no further than `cap`."""

    def count_parked(self, cap: int) -> int:
        """How many records are parked, counting no further than `cap`."""

    def forget(self, record_id: str, owner: str) -> None:
        """Delete the record, if I still own it and it is in progress."""
