"""A crowd of retries of one key, with the invocation that does the work dying mid-way.

16 threads fire the same request at once through the real handler against the serialized embedded
DynamoDB; the processor is slow (tok_slow), so the others arrive while the first holds the key.
That first one dies at a boundary. Every client keeps retrying (on 409 and 5xx) until it gets an
answer: exactly one payment and one charge result, and every client ends with the same bytes.
"""

from __future__ import annotations

from typing import Any

import pytest

from payments_service.processors.sandbox import SandboxProcessor
from tests.proof.crowd import retrying_crowd
from tests.proof.exactly_once import assert_exactly_once
from tests.proof.injection import Boundary, Kind
from tests.proof.oracle import merchant
from tests.proof.rig import Rig
from tests.support import payment_event, unique, visa


@pytest.mark.parametrize("boundary", [Boundary.AFTER_CHARGE, Boundary.BEFORE_COMMIT, Boundary.AFTER_COMMIT])
def test_concurrent_retries_around_a_crashed_first_invocation_charge_once_and_agree(
    make_rig: Any, boundary: Boundary
) -> None:
    rig: Rig = make_rig(SandboxProcessor(slow_seconds=0.2))
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(source="tok_slow"), merchant=who)
    rig.plan.arm_exception(boundary, Kind.CRASH)
    histories = retrying_crowd(rig, event)

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
    if boundary is Boundary.AFTER_COMMIT and rig.settings.idempotency_completion == "sequential":
        # A sequential completion is finished by whoever meets it COMPLETING: when a polling duplicate
        # finished it and died after that last write, the worker, refused that write, answers its own
        # work first-hand. Either the worker died (0 fresh) or a helper did (1), never more.
        assert len(fresh) <= 1, fresh
        for history in histories:
            if not history[-1].replayed:  # the worker's client: the death was someone else's
                assert all(a.status != 500 for a in history), history
    else:
        assert len(fresh) == (0 if boundary is Boundary.AFTER_COMMIT else 1), fresh
    reference = finals[0]
    assert all(a.status == 201 and a.same_bytes(reference) for a in finals), finals
    assert_exactly_once(rig, who, key, event, reference)
