"""The backoff schedule and Retry-After parsing: pure functions, no I/O."""

from __future__ import annotations

import datetime
import email.utils
import random

import pytest
from payments_client import Backoff, parse_retry_after
from payments_client.retry import IN_FLIGHT, PROBLEM_BASE, retryable_status


def test_ceiling_doubles_from_base_until_the_cap() -> None:
    backoff = Backoff(base=0.5, cap=5.0)
    assert [backoff.ceiling(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.ceiling(10_000) == 5.0  # no overflow however many attempts


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    backoff = Backoff(base=0.1, cap=2.0, random=random.Random(7))
    for attempt in range(1, 8):
        draws = [backoff.delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= backoff.ceiling(attempt) for d in draws)
        # Full jitter, not "equal" jitter: waits near zero happen too, the top half too.
        assert min(draws) < backoff.ceiling(attempt) / 4
        assert max(draws) > backoff.ceiling(attempt) * 3 / 4


def test_full_jitter_follows_its_random_source() -> None:
    drawn = [Backoff(random=random.Random(42)).delay(3) for _ in range(2)]
    expected = random.Random(42).uniform(0.0, Backoff().ceiling(3))
    assert drawn == [expected, expected]


@pytest.mark.parametrize(("header", "seconds"), [("0", 0.0), ("1", 1.0), ("120", 120.0), (" 7 ", 7.0)])
def test_retry_after_in_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    now = datetime.datetime(2026, 12, 4, 22, 0, 0, tzinfo=datetime.UTC)
    later = email.utils.format_datetime(now + datetime.timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now) == 30.0
    earlier = email.utils.format_datetime(now - datetime.timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0  # a date in the past: retry now
    assert parse_retry_after("Fri, 04 Dec 2026 22:00:05 GMT", now=now) == 5.0


@pytest.mark.parametrize("header", [None, "", "soon", "-1", "1.5", "١٢"])
def test_unreadable_retry_after_is_ignored(header: str | None) -> None:
    assert parse_retry_after(header) is None


@pytest.mark.parametrize(
    ("status", "kind", "retry"),
    [
        (500, None, True),
        (502, None, True),
        (503, PROBLEM_BASE + "service-unavailable", True),
        (504, None, True),
        (429, PROBLEM_BASE + "throttled", True),
        (409, IN_FLIGHT, True),
        (409, PROBLEM_BASE + "refund-exceeds-payment", False),
        (400, PROBLEM_BASE + "invalid-request", False),
        (401, None, False),
        (402, PROBLEM_BASE + "card-declined", False),
        (403, None, False),
        (404, PROBLEM_BASE + "not-found", False),
        (422, PROBLEM_BASE + "idempotency-key-reused", False),
    ],
)
def test_what_is_retried(status: int, kind: str | None, retry: bool) -> None:
    assert retryable_status(status, kind) is retry
