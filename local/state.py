"""Optional persistence for the embedded DynamoDB (`make run STATE=file`): a journal of DynamoDB writes.

moto keeps tables in memory only. Every successful write request (PutItem, UpdateItem, DeleteItem,
TransactWriteItems, BatchWriteItem) is appended to the file as it is answered, under the embedded
DynamoDB's lock, so the file is always a prefix of the serialized history: a restart (or a crash) replays
it through moto and gets the same items back. Writes are deterministic given the earlier state (every
value, the clock included, is in the request), so the replay is exact. At start the journal is
compacted into one BatchWriteItem per 25 items, which keeps it as small as the data.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
TARGET_PREFIX = "DynamoDB_20120810."
BATCH = 25  # BatchWriteItem's limit

# (operation, JSON body) -> HTTP status; runs one request through moto without the network.
Apply = Callable[[str, bytes], int]


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def _entries(self) -> Iterator[tuple[str, bytes]]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    entry = json.loads(line)
                    yield entry["op"], entry["body"].encode()
                except (ValueError, KeyError, AttributeError):
                    # Only the last line can be torn (a crash mid-write); anything else is not our file.
                    print(f"state: ignoring unreadable line {number} of {self.path}", file=sys.stderr, flush=True)

    def restore(self, apply: Apply, items: Callable[[], dict[str, list[dict[str, Any]]]]) -> None:
        """Replay the journal, then rewrite it compacted (atomically) and keep it open for appending."""
        for operation, body in self._entries():
            status = apply(operation, body)
            if status != 200:
                raise RuntimeError(f"state file {self.path}: replaying {operation} answered {status}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        compacted = self.path.with_name(self.path.name + ".tmp")
        with compacted.open("w", encoding="utf-8") as out:
            for table, table_items in items().items():
                for start in range(0, len(table_items), BATCH):
                    puts = [{"PutRequest": {"Item": item}} for item in table_items[start : start + BATCH]]
                    out.write(_line("BatchWriteItem", json.dumps({"RequestItems": {table: puts}}).encode()))
            out.flush()
            os.fsync(out.fileno())
        os.replace(compacted, self.path)
        self._file = self.path.open("a", encoding="utf-8")

    def append(self, operation: str, body: bytes) -> None:
        if self._file is not None:
            self._file.write(_line(operation, body))
            self._file.flush()  # in the OS's hands: a crash of this process loses nothing answered

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _line(operation: str, body: bytes) -> str:
    return json.dumps({"op": operation, "body": body.decode()}, separators=(",", ":")) + "\n"
