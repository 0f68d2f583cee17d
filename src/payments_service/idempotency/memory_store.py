"""The store port in memory, with the same conditions as the DynamoDB store: for fast engine tests
and for callers that want the engine without a database. One lock makes every call atomic."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from .records import IdempotencyRecord, Status
from .store import RecordConflict, WriteRejected


class InMemoryStore:
    def __init__(self, accepts: Callable[[object], bool] = lambda write: True) -> None:
        self._accepts = accepts  # a business write's own condition
        self._lock = threading.Lock()
        self.records: dict[str, IdempotencyRecord] = {}
        self.applied: list[object] = []  # business writes committed with a completion
        self.unknown_since: dict[str, int] = {}  # record id -> outcome unknown since (ms), first
        self.in_line: dict[str, int] = {}  # the recovery index: record id -> in line since (ms)
        self.attempts: dict[str, int] = {}
        self.parked: set[str] = set()

    def get(self, record_id: str) -> IdempotencyRecord | None:
        with self._lock:
            record = self.records.get(record_id)
            if record is None:
                return None
            return record.model_copy(
                update={
                    "unknown_since_ms": self.unknown_since.get(record_id),
                    "reconcile_attempts": self.attempts.get(record_id, 0),
                    "parked": record_id in self.parked,
                }
            )

    def put_new(self, record: IdempotencyRecord, now_ms: int) -> None:
        with self._lock:
            current = self.records.get(record.record_id)
            if current is not None and not current.is_expired(now_ms):
                raise RecordConflict(current)
            self.records[record.record_id] = record
            self.attempts.pop(record.record_id, None)
            self._index(record.record_id, record.lease_expires_at_ms)

    def take_over(
        self, existing: IdempotencyRecord, owner: str, lease_expires_at_ms: int, now_ms: int, expires_at: int
    ) -> None:
        with self._lock:
            current = self.records.get(existing.record_id)
            if (
                current is None
                or current.fingerprint != existing.fingerprint
                or current.reference != existing.reference
                or current.is_expired(now_ms)
                or not (
                    current.status is Status.RELEASED
                    or (current.status is Status.IN_PROGRESS and (current.lease_expires_at_ms or 0) <= now_ms)
                )
            ):
                raise RecordConflict(current)
            self.records[current.record_id] = current.model_copy(
                update={
                    "status": Status.IN_PROGRESS,
                    "owner": owner,
                    "lease_expires_at_ms": lease_expires_at_ms,
                    "expires_at": expires_at,
                }
            )
            self._index(current.record_id, lease_expires_at_ms, keep_since=True)

    def complete(self, record_id: str, owner: str, result: str, writes: Sequence[object]) -> None:
        with self._lock:
            current = self._owned(record_id, owner)
            for write in writes:
                if not self._accepts(write):
                    raise WriteRejected(write)
            self.applied.extend(writes)
            self.records[record_id] = current.model_copy(
                update={"status": Status.COMPLETED, "result": result, "lease_expires_at_ms": None}
            )
            self._index(record_id, None)

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
        with self._lock:
            current = self._owned(record_id, owner)
            self.records[record_id] = current.model_copy(
                update={"status": Status.RELEASED, "owner": None, "lease_expires_at_ms": None}
            )
            self._index(record_id, unknown_since_ms, looked_at_ms=looked_at_ms)
            if unknown_since_ms is not None and attempts is not None:
                self.attempts[record_id] = attempts
            if unknown_since_ms is not None and parked:
                self.parked.add(record_id)

    def forget(self, record_id: str, owner: str) -> None:
        with self._lock:
            self._owned(record_id, owner)
            del self.records[record_id]
            self._index(record_id, None)

    def unresolved(self, in_line_before_ms: int, limit: int) -> list[str]:
        with self._lock:
            due = sorted((at, rid) for rid, at in self._line() if at <= in_line_before_ms)
            return [rid for _, rid in due[:limit]]

    def count_unresolved(self, in_line_before_ms: int, cap: int) -> int:
        with self._lock:
            return min(cap, sum(1 for _, at in self._line() if at <= in_line_before_ms))

    def count_parked(self, cap: int) -> int:
        with self._lock:
            return min(cap, len(self.parked))

    def _line(self) -> list[tuple[str, int]]:
        return [(rid, at) for rid, at in self.in_line.items() if rid not in self.parked]

    def _index(
        self, record_id: str, unknown_since_ms: int | None, *, looked_at_ms: int | None = None, keep_since: bool = False
    ) -> None:
        """The recovery index as DynamoDB's sparse one: every write leaves or puts the key in line (unparked)."""
        self.parked.discard(record_id)
        if unknown_since_ms is None:
            for held in (self.unknown_since, self.in_line, self.attempts):
                held.pop(record_id, None)
            return
        self.in_line[record_id] = looked_at_ms if looked_at_ms is not None else unknown_since_ms
        if keep_since:  # a takeover: the key's age stays what it was
            self.unknown_since.setdefault(record_id, unknown_since_ms)
        else:
            self.unknown_since[record_id] = unknown_since_ms

    def _owned(self, record_id: str, owner: str) -> IdempotencyRecord:
        current = self.records.get(record_id)
        if current is None or current.status is not Status.IN_PROGRESS or current.owner != owner:
            raise RecordConflict(current)
        return current
