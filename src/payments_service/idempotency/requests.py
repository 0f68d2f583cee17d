"""What callers hand the engine and get back: the request, the claim an operation runs under, the
completion it returns, the outcome, and a recovery's verdict and result; plus the in-flight policy.

Plain values: they hold no store and do no I/O.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .fingerprint import fingerprint, unversioned_fingerprint
from .keys import record_id


@dataclass(frozen=True)
class IdempotentRequest:
    scope: str  # who the key belongs to (a merchant, a tenant)
    key: str
    operation: str  # names the work, e.g. "payments.create"; part of the fingerprint and stored for recovery
    payload: str  # the canonical input; fingerprinted, and stored so recovery can finish the work
    # The payload as the unversioned (v1) fingerprint saw it, if it differs: keys claimed before
    # versioning keep matching their retries until they expire. None: no such keys can exist.
    unversioned_payload: str | None = None

    @property
    def record_id(self) -> str:
        return record_id(self.scope, self.key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.operation, self.payload)

    def matches(self, stored_fingerprint: str) -> bool:
        """Is the key's stored fingerprint this request's (in its current or its unversioned form)?"""
        if stored_fingerprint == self.fingerprint:
            return True
        if self.unversioned_payload is None or ":" in stored_fingerprint:
            return False
        return stored_fingerprint == unversioned_fingerprint(self.operation, self.unversioned_payload)


@dataclass(frozen=True)
class Claim:
    record_id: str
    owner: str
    reference: str  # stable downstream idempotency reference (takeovers and releases keep it)
    lease_expires_at_ms: int
    expires_at: int  # the record's retention deadline, epoch seconds


@dataclass(frozen=True)
class Completion:
    result: str  # recorded for replays; opaque to the engine
    writes: Sequence[object] = ()  # typed business writes, committed atomically with the result
    # If a write's own condition fails nothing was applied: give the key back keeping its reference
    # ("release", something may have happened downstream) or delete it ("forget", nothing did).
    if_rejected: Literal["release", "forget"] = "release"


@dataclass(frozen=True)
class Outcome:
    result: str
    replayed: bool
    record_id: str


class Verdict(enum.Enum):
    """What a recovery learned when it could not finish the work."""

    NOT_DONE = "not_done"  # nothing happened downstream: leave the key to a client's retry
    UNKNOWN = "unknown"  # still cannot tell: look again on a later run
    FORGET = "forget"  # nothing happened downstream and nothing ever will (refused for good): delete the key


class Recovery(enum.StrEnum):
    COMPLETED = "completed"  # finished and recorded, exactly as the original request would have
    NOT_DONE = "not_done"  # released, out of the recovery index: a retry resumes it under its reference
    STILL_UNKNOWN = "still_unknown"  # released, still in the index (behind every key not looked at since)
    PARKED = "parked"  # still unknown after the last allowed attempt: released, out of the recovery line
    FORGOTTEN = "forgotten"  # refused for good with nothing done: deleted, a retry is evaluated afresh
    SKIPPED = "skipped"  # resolved meanwhile, or held by a live owner (another run, a retry)


@dataclass(frozen=True)
class InFlightPolicy:
    """How a duplicate of a request still running is answered."""

    retry_after_seconds: int = 1  # a poll hint, not the lease's remaining time (the work often ends sooner)
    wait_ms: int = 0  # poll the key this long for the first request's result before answering "in use"
    poll_ms: int = 100
    sleep: Callable[[float], None] = time.sleep
    elapsed_ms: Callable[[], float] = field(default=lambda: time.monotonic() * 1000)  # real time, not the clock
