"""The Stripe adapter's refunds through the real `stripe` SDK against the test double: each mapping of issue 12."""

from __future__ import annotations

from typing import Any

import pytest

from payments_service.domain.processor import (
    ProcessorIdempotencyError,
    ProcessorMisconfigured,
    ProcessorRefund,
    ProcessorUnavailable,
    RefundRefused,
)
from tests.stripe_double import Endpoint, Fault
from tests.stripe_double.server import RESTRICTED_KEY
from tests.support import unique

from .test_stripe_processor import adapter, charge, wait_until

REFUNDS = Endpoint.REFUNDS


def refund(processor: Any, reference: str, intent: str, amount: int) -> ProcessorRefund:
    result: ProcessorRefund = processor.refund(reference=reference, charge_id=intent, amount=amount, currency="EUR")
    return result


def paid(processor: Any, amount: int = 1000, source: str = "pm_card_visa") -> str:
    """A PaymentIntent created at the double (succeeded with the default card)."""
    return str(charge(processor, unique("pay"), source, amount=amount).id)


def test_a_refund_is_one_stripe_refund_of_the_payment_intent_under_the_reference(
    stripe_processor: Any, stripe_double: Any
) -> None:
    intent, ref = paid(stripe_processor), unique("ref")
    made = refund(stripe_processor, ref, intent, 400)
    [at_stripe] = stripe_double.refunds
    assert made.id == at_stripe["id"] and made.id.startswith("re_")
    assert (at_stripe["object"], at_stripe["status"]) == ("refund", "succeeded")
    assert (at_stripe["payment_intent"], at_stripe["amount"], at_stripe["currency"]) == (intent, 400, "eur")
    assert at_stripe["metadata"] == {"idempotency_reference": ref}
    assert stripe_double.amount_refunded(intent) == 400
    [seen] = stripe_double.requests(REFUNDS)
    assert seen.idempotency_key == ref
    assert seen.params == {"payment_intent": intent, "amount": "400", "metadata[idempotency_reference]": ref}


def test_the_same_reference_again_is_the_same_refund_and_refunds_once(
    stripe_processor: Any, stripe_double: Any
) -> None:
    intent, ref = paid(stripe_processor), unique("ref")
    assert refund(stripe_processor, ref, intent, 400) == refund(stripe_processor, ref, intent, 400)
    assert len(stripe_double.refunds) == 1 and stripe_double.amount_refunded(intent) == 400
    assert [s.replayed for s in stripe_double.requests(REFUNDS)] == [False, True]


@pytest.mark.parametrize(
    ("first", "second", "code"),
    [(700, 400, "amount_too_large"), (1000, 1, "charge_already_refunded")],
)
def test_more_than_remains_unrefunded_at_stripe_is_refused_and_refunds_nothing(
    stripe_processor: Any, stripe_double: Any, first: int, second: int, code: str
) -> None:
    intent = paid(stripe_processor, 1000)
    refund(stripe_processor, unique("ref"), intent, first)
    with pytest.raises(RefundRefused) as refused:
        refund(stripe_processor, unique("ref"), intent, second)
    assert refused.value.code == code
    assert len(stripe_double.refunds) == 1 and stripe_double.amount_refunded(intent) == first


def test_an_unknown_payment_intent_is_refused_as_resource_missing(stripe_processor: Any, stripe_double: Any) -> None:
    with pytest.raises(RefundRefused) as refused:
        refund(stripe_processor, unique("ref"), "pi_doesnotexist", 400)
    assert refused.value.code == "resource_missing"
    assert stripe_double.refunds == []


def test_a_payment_intent_that_has_not_succeeded_is_refused(stripe_processor: Any, stripe_double: Any) -> None:
    paid(stripe_processor, source="pm_card_authenticationRequired")  # awaiting its customer: nothing to refund
    [intent] = stripe_double.intents
    with pytest.raises(RefundRefused) as refused:
        refund(stripe_processor, unique("ref"), intent["id"], 400)
    assert refused.value.code == "payment_intent_unexpected_state"
    assert stripe_double.refunds == []


@pytest.mark.parametrize("created", [True, False], ids=["refund-created", "nothing-created"])
def test_a_5xx_is_unavailable_and_a_retry_under_the_reference_stays_unavailable_never_refunding_twice(
    stripe_double: Any, created: bool
) -> None:
    processor, ref = adapter(stripe_double), unique("ref")
    intent = paid(processor)
    stripe_double.arm(Fault.SERVER_ERROR, on=REFUNDS, create=created)
    with pytest.raises(ProcessorUnavailable):
        refund(processor, ref, intent, 400)
    # The SDK retried (same key) and got the saved 500 each time; so does a later call of ours.
    with pytest.raises(ProcessorUnavailable):
        refund(processor, ref, intent, 400)
    assert len(stripe_double.refunds) == int(created)
    assert stripe_double.amount_refunded(intent) == 400 * created
    assert stripe_double.keys(REFUNDS) == {ref}
    assert [s.status for s in stripe_double.requests(REFUNDS)] == [500] * 6
    assert [s.replayed for s in stripe_double.requests(REFUNDS)] == [False] + [True] * 5


def test_a_lost_answer_is_unavailable_and_the_retry_gets_the_refund_made_meanwhile(stripe_double: Any) -> None:
    processor, ref = adapter(stripe_double, retries=0), unique("ref")
    intent = paid(processor)
    stripe_double.arm(Fault.LOSE_ANSWER, on=REFUNDS)
    with pytest.raises(ProcessorUnavailable):
        refund(processor, ref, intent, 400)
    [made] = stripe_double.refunds  # refunded: only the answer was lost
    assert refund(processor, ref, intent, 400).id == made["id"]
    assert len(stripe_double.refunds) == 1 and stripe_double.amount_refunded(intent) == 400
    assert [(s.idempotency_key, s.replayed, s.answered) for s in stripe_double.requests(REFUNDS)] == [
        (ref, False, False),
        (ref, True, True),
    ]


def test_the_sdk_retries_a_lost_refund_answer_with_the_same_key(stripe_processor: Any, stripe_double: Any) -> None:
    intent, ref = paid(stripe_processor), unique("ref")
    stripe_double.arm(Fault.LOSE_ANSWER, on=REFUNDS)
    made = refund(stripe_processor, ref, intent, 400)
    [at_stripe] = stripe_double.refunds
    assert made.id == at_stripe["id"]
    assert [s.replayed for s in stripe_double.requests(REFUNDS)] == [False, True]


def test_a_slow_refund_times_out_as_unavailable_and_a_later_retry_gets_that_refund(stripe_double: Any) -> None:
    processor, ref = adapter(stripe_double, retries=1, attempt_s=1.0), unique("ref")
    intent = paid(processor)
    stripe_double.arm(Fault.SLOW, on=REFUNDS, seconds=3.0)
    with pytest.raises(ProcessorUnavailable):
        refund(processor, ref, intent, 400)
    # The first attempt timed out; the SDK's retry (same key) arrived while it still ran: 409.
    assert [(s.idempotency_key, s.status) for s in stripe_double.requests(REFUNDS)] == [(ref, 409)]
    wait_until(lambda: len(stripe_double.requests(REFUNDS)) == 2)  # the slow request finishes at the double
    [made] = stripe_double.refunds
    assert refund(processor, ref, intent, 400).id == made["id"]
    assert stripe_double.amount_refunded(intent) == 400


def test_a_429_is_unavailable_and_not_saved_so_the_retry_refunds(stripe_double: Any) -> None:
    processor, ref = adapter(stripe_double, retries=0), unique("ref")
    intent = paid(processor)
    stripe_double.arm(Fault.RATE_LIMIT, on=REFUNDS)
    with pytest.raises(ProcessorUnavailable):
        refund(processor, ref, intent, 400)
    assert stripe_double.refunds == []
    assert refund(processor, ref, intent, 400).id == stripe_double.refunds[0]["id"]


def test_our_reference_with_another_amount_is_an_idempotency_error_and_no_second_refund(
    stripe_processor: Any, stripe_double: Any
) -> None:
    intent, ref = paid(stripe_processor), unique("ref")
    refund(stripe_processor, ref, intent, 400)
    with pytest.raises(ProcessorIdempotencyError):
        refund(stripe_processor, ref, intent, 500)
    assert len(stripe_double.refunds) == 1 and stripe_double.amount_refunded(intent) == 400


def test_a_reference_sent_before_a_deploy_added_metadata_is_answered_with_the_refund_made_then(
    stripe_processor: Any, stripe_double: Any
) -> None:
    """Decision 0141: the older deploy sent no payment_id; the retry after the deploy does, Stripe calls that
    an idempotency_error, and the adapter answers with the refund the reference already made."""
    intent, ref = paid(stripe_processor), unique("ref")
    before = refund(stripe_processor, ref, intent, 400)  # no payment_id: what the earlier code sent
    after = stripe_processor.refund(
        reference=ref, charge_id=intent, amount=400, currency="EUR", payment_id="pay_0123456789abcdef01234567"
    )
    assert after == before
    assert [r.status for r in stripe_double.requests(REFUNDS)] == [200, 400]  # the second was refused by Stripe
    assert len(stripe_double.refunds) == 1 and stripe_double.amount_refunded(intent) == 400


@pytest.mark.parametrize("key", ["sk_test_wrong", RESTRICTED_KEY])
def test_authentication_and_permission_errors_are_misconfiguration(
    stripe_processor: Any, stripe_double: Any, key: str
) -> None:
    intent = paid(stripe_processor)
    with pytest.raises(ProcessorMisconfigured):
        refund(adapter(stripe_double, key=key), unique("ref"), intent, 400)
    assert stripe_double.refunds == []
