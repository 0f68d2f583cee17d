"""Delete keys past retention where the table has no TTL (global tables in MRSC mode), in bounded runs.

Keys already expire at read time; this only frees their storage. A run reads scan pages from where the last
one stopped (the cursor, idempotency/expiry.py), deletes each expired key whose status the rule allows, with
the rule checked again by the delete itself, and moves the cursor after each page it finished. A pass that
reaches the table's end clears the cursor: the next run starts over. Bounded: at most max_deletes delete
attempts and max_pages pages, stopping while the invocation still has time to move the cursor. A page's
limit never exceeds the deletes left, so a run never stops for its bound in the middle of a page.

Idempotent: a key deleted twice, or renewed by a takeover since the page was read, fails its condition and is
counted as skipped. A transient failure ends the run keeping the cursor where the last finished page left it;
a page cut short is read again by the next run (what it deleted is gone, the rest is looked at again). Two
overlapping runs: the cursor moves from a version, so only one moves it; the other stops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..idempotency.clock import Clock
from ..idempotency.expiry import ExpiredKeyStore, may_delete
from ..idempotency.store import StoreUnavailable

# A run stops taking pages or keys when its invocation has less than this left: above the time under which
# DynamoDB calls are refused (dal/deadline.py, 3.7 s), so the last finished page's cursor is still stored.
STOP_BEFORE_END_MS = 5_000

# Why a run ended (the log line's `stopped`); "not_run": it failed before starting (a misconfiguration).
STOPS = ("pass_completed", "max_deletes", "max_pages", "time", "unavailable", "cursor_moved", "not_run")


@dataclass(frozen=True)
class SweepReport:
    swept: int = 0  # keys deleted
    skipped: int = 0  # expired keys left: a status the rule leaves, or the delete's condition failed
    pages: int = 0  # scan pages read
    pass_completed: bool = False  # this run reached the table's end and cleared the cursor
    stopped: str = "not_run"  # one of STOPS
    error: str | None = None  # the transient failure's code (e.g. ThrottlingException), when one ended the run


class SweepExpiredKeys:
    def __init__(
        self, keys: ExpiredKeyStore, clock: Clock, *, max_deletes_per_run: int, page_size: int, max_pages_per_run: int
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._max_deletes = max_deletes_per_run
        self._page_size = page_size
        self._max_pages = max_pages_per_run

    def __call__(self, remaining_ms: Callable[[], int] | None = None) -> SweepReport:
        """One bounded run. remaining_ms: the invocation's time left, asked before each page and key (None:
        unbounded in time, e.g. scripts). Raises only what is not transient (a misconfiguration)."""
        run = _Run()
        try:
            run.stopped = self._sweep(run, remaining_ms or _forever)
        except StoreUnavailable as error:
            run.stopped, run.error = "unavailable", str(error) or type(error).__name__  # a code, never a message
        return SweepReport(run.swept, run.skipped, run.pages, run.stopped == "pass_completed", run.stopped, run.error)

    def _sweep(self, run: _Run, remaining_ms: Callable[[], int]) -> str:
        cursor = self._keys.read_cursor()
        while True:
            deletes_left = self._max_deletes - run.attempts
            if deletes_left <= 0:
                return "max_deletes"
            if run.pages >= self._max_pages:
                return "max_pages"
            if remaining_ms() < STOP_BEFORE_END_MS:
                return "time"
            page = self._keys.expired_page(cursor.start, self._now_s(), min(self._page_size, deletes_left))
            run.pages += 1
            for key in page.keys:
                if remaining_ms() < STOP_BEFORE_END_MS:
                    return "time"  # the cursor stays before this page: the next run reads it again
                if not may_delete(key.status):
                    run.skipped += 1
                    continue
                run.attempts += 1
                if self._keys.delete_expired(key.record_id, self._now_s()):
                    run.swept += 1
                else:
                    run.skipped += 1  # already deleted, or renewed by a takeover since the page was read
            moved = self._keys.move_cursor(cursor, page.next_start, self._clock.now_ms())
            if moved is None:
                return "cursor_moved"  # another run is sweeping from there
            if moved.start is None:
                return "pass_completed"
            cursor = moved

    def _now_s(self) -> int:
        return self._clock.now_ms() // 1000


@dataclass
class _Run:
    swept: int = 0
    skipped: int = 0
    pages: int = 0
    attempts: int = 0  # deletes sent, applied or not: the run's bound
    stopped: str = "not_run"
    error: str | None = None


def _forever() -> int:
    return 2**62
