"""Expiry without TTL: which keys past retention may be deleted, and the port a sweeper deletes them through.

A key past retention is already treated as absent at read time (records.py, is_expired); deleting it only
frees the storage TTL would have freed. Where the table has no TTL (a global table in MRSC mode), a
scheduled sweeper walks the table in bounded pages, resuming from a cursor stored in the same table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .records import Status

# The one rule. Past retention, a key may be deleted only in a status nobody is writing any more: COMPLETED
# (its answer is recorded) or RELEASED (given back). Any other status is left, whatever its expiry: IN_PROGRESS
# (its holder may still commit), COMPLETING (a completion under way), or a status added later. A key left here
# is still absent to the engine, and the next claim of it overwrites it.
DELETABLE_WHEN_EXPIRED: frozenset[str] = frozenset({Status.COMPLETED.value, Status.RELEASED.value})

# Where a scan stopped, as the store gave it (DynamoDB's LastEvaluatedKey): opaque to everyone else.
Position = Mapping[str, Any]


def may_delete(status: str) -> bool:
    return status in DELETABLE_WHEN_EXPIRED


@dataclass(frozen=True)
class ExpiredKey:
    record_id: str
    status: str  # as stored: possibly a status this code does not know


@dataclass(frozen=True)
class ExpiredPage:
    keys: tuple[ExpiredKey, ...]  # the page's keys past retention, whatever their status
    next_start: Position | None  # where the next page starts; None: this page ended the pass


@dataclass(frozen=True)
class SweepCursor:
    start: Position | None  # None: at the start of a pass
    version: int  # 0: never written; every move adds one, so two runs cannot both move it from one version


class ExpiredKeyStore(Protocol):
    def read_cursor(self) -> SweepCursor:
        """Where the last run stopped (a consistent read). StoreUnavailable on a transient failure."""

    def expired_page(self, start: Position | None, now_s: int, limit: int) -> ExpiredPage:
        """The next page of the pass: at most `limit` items read from `start`, the expired ones returned."""

    def delete_expired(self, record_id: str, now_s: int) -> bool:
        """Delete the key if, at the moment of the delete, it is past retention and may_delete(status).
        False when the condition failed (already deleted, renewed, or in a status that is left)."""

    def move_cursor(self, cursor: SweepCursor, start: Position | None, now_ms: int) -> SweepCursor | None:
        """Store `start` (None: the pass is over) if the cursor is still at `cursor.version`; None if another
        run moved it meanwhile (nothing written)."""
