"""A crowd of retries of one key, with the invocation that does the work dying mid-way.

16 threads fire the same request at once through the real handler against the serialized embedded
DynamoDB; the processor is slow (tok_slow), so the others arrive while the first holds the key.
That first one dies at a boundary. Every client keeps retrying (on 409 and 5xx) until it gets an
answer: exactly one payment and one charge result, and every client ends with the same bytes.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from payments_service.processors.sandbox import SandboxProcessor
from tests.proof.exactly_once import assert_exactly_once
from tests.proof.injection import Boundary, Kind
from tests.proof.oracle import Answer, merchant
from tests.proof.rig import Rig
from tests.support import payment_event, unique, visa

THREADS = 16
MAX_ATTEMPTS = 200
REMAINING_MS = 20_000


@pytest.mark.parametrize("boundary", [Boundary.AFTER_CHARGE, Boundary.BEFORE_COMMIT, Boundary.AFTER_COMMIT])
def test_concurrent_retries_around_a_crashed_first_invocation_charge_once_and_agree(
    make_rig: Any, boundary: Boundary
) -> None:
    rig: Rig = make_rig(SandboxProcessor(slow_seconds=0.2))
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(source="tok_slow"), merchant=who)
    rig.plan.arm_exception(boundary, Kind.CRASH)
    start = threading.Barrier(THREADS)
    news = threading.Condition()  # notified whenever some client got an answer other than 409

    def announce() -> None:
        with news:
            news.notify_all()

    def client(_: int) -> list[Answer]:
        seen: list[Answer] = []
        start.wait(10)
        for _attempt in range(MAX_ATTEMPTS):
            answer = rig.call(event, REMAINING_MS)
            seen.append(answer)
            if answer.status == 500:
                # The crashed invocation's client waits out the lease before retrying (time is frozen
                # otherwise); a released or committed key does not need it, and it does no harm.
                rig.clock.advance(REMAINING_MS + 1)
                announce()
            elif answer.status == 409:
                with news:  # back off a little; news of an answer sends everyone straight back
                    news.wait(0.05)
            else:
                announce()
                return seen
        raise AssertionError(f"no answer after {MAX_ATTEMPTS} attempts: {seen[-3:]}")

    with ThreadPoolExecutor(THREADS) as pool:
        histories = list(pool.map(client, range(THREADS)))

    answers = [a for history in histories for a in history]
    finals = [history[-1] for history in histories]
    # Exactly one injected failure happened, and it is the only 5xx anyone saw
    assert rig.plan.fired == [boundary]
    assert sorted(a.status for a in answers if a.status >= 500) == [500]
    # Every other intermediate answer is "in progress, retry later"
    for a in answers:
        if a.status == 409:
            assert a.retry_after >= 1
    assert {a.status for a in answers} <= {201, 409, 500}
    # One invocation did the work (after the crash, unless the crash came after the commit); all agree on it
    fresh = [a for a in finals if not a.replayed]
    assert len(fresh) == (0 if boundary is Boundary.AFTER_COMMIT else 1), fresh
    reference = finals[0]
    assert all(a.status == 201 and a.same_bytes(reference) for a in finals), finals
    assert_exactly_once(rig, who, key, event, reference)
