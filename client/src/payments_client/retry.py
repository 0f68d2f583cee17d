"""When to try again, and how long to wait: pure functions, no I/O.

httpx retries only failed connection attempts (never a request that was sent), and neither it nor the
standard library knows `Retry-After` or full jitter, so the schedule is written here.
"""

from __future__ import annotations

import datetime
import email.utils
import random
from dataclasses import dataclass, field

PROBLEM_BASE = "urn:idempotent-payments:problem:"
# A 409 that goes away by itself: the first request with this key is still running.
IN_FLIGHT = PROBLEM_BASE + "idempotency-key-in-use"
# Statuses worth another attempt with the same key and body; every other 4xx is final.
RETRYABLE_4XX = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniformly in [0, min(cap, base * 2**(n-1))].

    Full jitter spreads clients that failed together (AWS Architecture Blog, "Exponential Backoff And
    Jitter"); a server's `Retry-After` replaces the draw when it is given."""

    base: float = 0.25
    cap: float = 8.0
    random: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed attempt `attempt` (1-based)."""
        exponent = min(max(attempt, 1) - 1, 62)  # 2**62 already dwarfs any cap
        return min(self.cap, self.base * 2.0**exponent)

    def delay(self, attempt: int) -> float:
        return self.random.uniform(0.0, self.ceiling(attempt))


def parse_retry_after(value: str | None, now: datetime.datetime | None = None) -> float | None:
    """`Retry-After` in seconds (RFC 9110: delay-seconds or an HTTP-date); None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a date without a zone is read as such
        when = when.replace(tzinfo=datetime.timezone.utc)
    current = now or datetime.datetime.now(datetime.timezone.utc)
    return max(0.0, (when - current).total_seconds())


def retryable_status(status: int, problem_type: str | None) -> bool:
    """5xx, 408/425/429, and the in-flight 409; never 400/401/403/404/422, a decline or another 409."""
    if status >= 500:
        return True
    if status == 409:
        return problem_type == IN_FLIGHT
    return status in RETRYABLE_4XX
