"""Opt-in, bounded in-memory cache of COMPLETED results for replays within one warm environment."""

from __future__ import annotations

import threading
from collections import OrderedDict

from .records import IdempotencyRecord


class ReplayCache:
    """LRU by record id. Record ids embed the client scope, so entries are never shared across clients."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: OrderedDict[str, IdempotencyRecord] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, record_id: str, now_ms: int) -> IdempotencyRecord | None:
        with self._lock:
            record = self._entries.get(record_id)
            if record is None:
                return None
            if record.is_expired(now_ms):  # never outlive the stored record
                del self._entries[record_id]
                return None
            self._entries.move_to_end(record_id)
            return record

    def put(self, record: IdempotencyRecord) -> None:
        if self._max <= 0 or record.result is None:
            return
        with self._lock:
            self._entries[record.record_id] = record
            self._entries.move_to_end(record.record_id)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
