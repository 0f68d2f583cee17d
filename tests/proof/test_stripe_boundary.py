"""The fault matrix and the concurrency proofs carried to the processor boundary: the real handler and the
serialized embedded DynamoDB, the real Stripe adapter and SDK, and the Stripe test double behind them.

Across SDK retries, lost answers, releases, takeovers and 16 concurrent duplicates, every case ends
with exactly one payment here and, at Stripe, exactly one PaymentIntent created under exactly one
Idempotency-Key: the key's reference.
"""

from __future__ import annotations

from typing import Any

import pytest

from payments_service.idempotency.records import Status
from payments_service.processors.stripe import StripeProcessor
from tests.proof.crowd import REMAINING_MS, retrying_crowd
from tests.proof.exactly_once import BOUNDARY_CASES, assert_exactly_once, obeying, retry_until_answered
from tests.proof.injection import Boundary, Kind
from tests.proof.oracle import Answer, key_record, merchant
from tests.proof.rig import Rig
from tests.stripe_double import Fault, StripeDouble
from tests.stripe_double.server import TEST_KEY
from tests.support import payment_event, unique


def stripe(double: StripeDouble, retries: int = 2) -> StripeProcessor:
    return StripeProcessor(lambda: TEST_KEY, api_base=double.url, max_network_retries=retries, attempt_timeout_s=1.0)


def card(source: str = "pm_card_visa") -> dict[str, Any]:
    return {"amount": 2500, "currency": "EUR", "source": source}


def assert_once_at_stripe(rig: Rig, double: StripeDouble, who: str, key: str) -> None:
    """One PaymentIntent, created under the key's reference and no other Idempotency-Key, and it is the payment's."""
    record = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert record is not None
    assert double.keys() == {record.reference}, double.seen
    [intent] = double.intents
    assert rig.ledger.charge_ids() == {intent["id"]}
    assert intent["metadata"] == {"idempotency_reference": record.reference}


@pytest.mark.parametrize(("completion", "boundary"), BOUNDARY_CASES, indirect=["completion"])
@pytest.mark.parametrize("kind", list(Kind))
def test_a_failure_at_each_boundary_then_obedient_retries_make_one_payment_intent(
    make_rig: Any, stripe_double: StripeDouble, boundary: Boundary, kind: Kind
) -> None:
    rig: Rig = make_rig(stripe(stripe_double))
    who, key = merchant(), unique("k")
    event = payment_event(key, card(), merchant=who)
    # Given the first invocation dies (an exception) or loses a round trip at the boundary
    rig.plan.arm_exception(boundary, kind)
    first = rig.call(event, REMAINING_MS)
    assert rig.plan.fired == [boundary]
    if first.status == 500:  # died: its client waits out the lease (a release makes that unnecessary)
        rig.clock.advance(REMAINING_MS + 1)
    elif first.status == 503:
        rig.clock.advance(obeying(first, 0))
    # When the client retries, obeying Retry-After
    final = first if first.status == 201 else retry_until_answered(rig, event)[0]
    # Then one payment, one answer for ever, and at Stripe one PaymentIntent under one key
    assert_exactly_once(rig, who, key, event, final)
    assert_once_at_stripe(rig, stripe_double, who, key)


def test_sdk_retries_across_lost_answers_send_the_same_key_and_make_one_payment_intent(
    rig_with_stripe: tuple[Rig, StripeDouble],
) -> None:
    rig, double = rig_with_stripe
    who, key = merchant(), unique("k")
    event = payment_event(key, card(), merchant=who)
    double.arm(Fault.LOSE_ANSWER, times=2)  # the first two answers never arrive; the SDK sends a third time
    answer = rig.call(event, REMAINING_MS)
    assert answer.status == 201, answer
    assert [(s.replayed, s.answered) for s in double.seen] == [(False, False), (True, False), (True, True)]
    assert_exactly_once(rig, who, key, event, answer)
    assert_once_at_stripe(rig, double, who, key)


def test_lost_answers_beyond_the_sdk_retries_release_the_key_and_our_retry_reuses_the_reference(
    make_rig: Any, stripe_double: StripeDouble
) -> None:
    rig: Rig = make_rig(stripe(stripe_double, retries=1))
    who, key = merchant(), unique("k")
    event = payment_event(key, card(), merchant=who)
    stripe_double.arm(Fault.LOSE_ANSWER, times=2)
    first = rig.call(event, REMAINING_MS)
    assert first.status == 503, first
    record = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert record is not None and record.status is Status.RELEASED
    rig.clock.advance(obeying(first, 0))
    final, _ = retry_until_answered(rig, event)
    assert [s.replayed for s in stripe_double.seen] == [False, True, True]
    assert_exactly_once(rig, who, key, event, final)
    assert_once_at_stripe(rig, stripe_double, who, key)


def _agree(
    rig: Rig, double: StripeDouble, who: str, key: str, event: dict[str, Any], crowd: list[list[Answer]]
) -> None:
    finals = [seen[-1] for seen in crowd]
    assert {f.status for f in finals} == {201}, [f.status for f in finals]
    assert len({f.body for f in finals}) == 1, "every client ends with the same bytes"
    assert_exactly_once(rig, who, key, event, finals[0])
    assert_once_at_stripe(rig, double, who, key)


def test_16_concurrent_duplicates_make_one_payment_intent_under_one_key(
    rig_with_stripe: tuple[Rig, StripeDouble],
) -> None:
    rig, double = rig_with_stripe
    who, key = merchant(), unique("k")
    event = payment_event(key, card("pm_card_slow"), merchant=who)  # slow: the others arrive mid-call
    crowd = retrying_crowd(rig, event)
    _agree(rig, double, who, key, event, crowd)
    originals = [seen[-1] for seen in crowd if not seen[-1].replayed]
    assert len(originals) == 1
    assert len(double.seen) == 1  # the others never reached Stripe


@pytest.mark.parametrize("boundary", [Boundary.AFTER_CHARGE, Boundary.BEFORE_COMMIT])
def test_16_concurrent_duplicates_around_a_crash_and_takeovers_make_one_payment_intent(
    rig_with_stripe: tuple[Rig, StripeDouble], boundary: Boundary
) -> None:
    rig, double = rig_with_stripe
    who, key = merchant(), unique("k")
    event = payment_event(key, card("pm_card_slow"), merchant=who)
    rig.plan.arm_exception(boundary, Kind.CRASH)
    crowd = retrying_crowd(rig, event)
    _agree(rig, double, who, key, event, crowd)
    assert len(double.seen) >= 2  # the takeover called Stripe again: with the same key, answered by a replay
    assert [s.replayed for s in double.seen][1:] == [True] * (len(double.seen) - 1)


def test_16_concurrent_retries_of_a_released_key_take_it_over_once_and_reuse_the_reference(
    rig_with_stripe: tuple[Rig, StripeDouble],
) -> None:
    rig, double = rig_with_stripe
    who, key = merchant(), unique("k")
    event = payment_event(key, card("pm_card_slow"), merchant=who)
    # Given a first attempt whose every answer from Stripe was lost (created there, released here)
    double.arm(Fault.LOSE_ANSWER, times=3)
    first = rig.call(event, REMAINING_MS)
    assert first.status == 503
    rig.clock.advance(obeying(first, 0))
    # When 16 clients retry at once
    crowd = retrying_crowd(rig, event)
    # Then one of them took over and Stripe replayed the first PaymentIntent to it
    _agree(rig, double, who, key, event, crowd)
    assert [s.replayed for s in double.seen] == [False, True, True, True]


@pytest.fixture
def rig_with_stripe(make_rig: Any, stripe_double: StripeDouble) -> tuple[Rig, StripeDouble]:
    return make_rig(stripe(stripe_double)), stripe_double
