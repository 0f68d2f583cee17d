"""Slow DynamoDB never pushes a request past the function's timeout: every call is budgeted by the
time the invocation has left, so the client gets our 503, never API Gateway's 504.

The embedded DynamoDB stalls answers past the client's read timeout (real time: the SDK's own
timeouts and retries run unchanged), and each stalled request still applies afterwards.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.proof.exactly_once import assert_exactly_once
from tests.proof.oracle import merchant
from tests.proof.rig import Rig
from tests.support import payment_event, unique, visa

REMAINING_MS = 6_000  # a short invocation; the SDK's worst case (3 x (1 s + 3 s) + backoff) is twice that


# The claim's call, and the commit's: one transaction, or the decision that starts a sequential completion.
CALLS = [
    ("transaction", "PutItem"),
    ("transaction", "TransactWriteItems"),
    ("sequential", "PutItem"),
    ("sequential", "UpdateItem"),
]


@pytest.mark.parametrize(("completion", "operation"), CALLS, indirect=["completion"])
def test_a_stalling_dynamodb_is_answered_with_a_503_before_the_function_times_out(
    rig: Rig, faults: Any, operation: str
) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    # Given every attempt of one call answers only after the client's read timeout
    faults.stall(operation, seconds=4.0, times=3)
    started = time.monotonic()
    answer = rig.call(event, remaining_ms=REMAINING_MS)
    elapsed_ms = (time.monotonic() - started) * 1000
    # Then the client has our answer, within the invocation's time
    assert answer.status == 503 and answer.retry_after >= 1, answer
    assert elapsed_ms < REMAINING_MS, f"answered after {elapsed_ms:.0f} ms of {REMAINING_MS}"
    # And once the stalled writes have landed, a client obeying Retry-After ends with one payment
    assert faults.wait_for_stalls()
    faults.clear()
    rig.clock.advance(answer.retry_after * 1000 + 1)
    final = rig.call(event)
    assert final.status == 201, final
    assert_exactly_once(rig, who, key, event, final)


def test_without_time_for_a_call_none_is_started(rig: Rig, dynamodb: Any) -> None:
    who, key = merchant(), unique("k")
    before = len(dynamodb.app.calls)
    answer = rig.call(payment_event(key, visa(), merchant=who), remaining_ms=1_000)
    assert answer.status == 503
    assert len(dynamodb.app.calls) == before  # not even the claim was sent
