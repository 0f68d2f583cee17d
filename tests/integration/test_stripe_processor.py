"""The Stripe adapter through the real `stripe` SDK against the test double: each mapping of issue 9."""

from __future__ import annotations

import time
from typing import Any

import pytest

from payments_service.domain.processor import (
    Declined,
    InvalidPaymentRequest,
    InvalidPaymentSource,
    ProcessorIdempotencyError,
    ProcessorMisconfigured,
    ProcessorUnavailable,
)
from payments_service.processors.stripe import StripeProcessor
from tests.stripe_double import Fault
from tests.stripe_double.server import RESTRICTED_KEY, TEST_KEY
from tests.support import unique


def wait_until(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def charge(processor: Any, reference: str, source: str = "pm_card_visa", amount: int = 1000, **kw: Any) -> Any:
    return processor.charge(reference=reference, amount=amount, currency="EUR", source=source, **kw)


def adapter(double: Any, key: str = TEST_KEY, retries: int = 2, attempt_s: float = 1.0) -> StripeProcessor:
    return StripeProcessor(lambda: key, api_base=double.url, max_network_retries=retries, attempt_timeout_s=attempt_s)


def test_succeeded_is_a_charge_and_sends_one_confirmed_card_payment_intent_under_the_reference(
    stripe_processor: Any, stripe_double: Any
) -> None:
    ref = unique("ref")
    charged = charge(stripe_processor, ref)
    [intent] = stripe_double.intents
    assert charged.id == intent["id"] and intent["id"].startswith("pi_")
    assert intent["status"] == "succeeded"
    assert (intent["amount"], intent["currency"], intent["payment_method"]) == (1000, "eur", "pm_card_visa")
    assert intent["metadata"] == {"idempotency_reference": ref}
    [seen] = stripe_double.seen
    assert seen.idempotency_key == ref
    assert seen.params["confirm"] == "true" and seen.params["allowed_payment_method_types[0]"] == "card"


def test_the_same_reference_again_is_the_same_payment_intent(stripe_processor: Any, stripe_double: Any) -> None:
    ref = unique("ref")
    assert charge(stripe_processor, ref) == charge(stripe_processor, ref)
    assert len(stripe_double.intents) == 1
    assert [s.replayed for s in stripe_double.seen] == [False, True]


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),  # Stripe's decline_code
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclinedProcessingError", "processing_error"),  # no decline_code: its code
    ],
)
def test_a_card_error_is_a_decline_with_stripes_decline_code_else_its_code(
    stripe_processor: Any, source: str, code: str
) -> None:
    with pytest.raises(Declined) as declined:
        charge(stripe_processor, unique("ref"), source)
    assert declined.value.decline_code == code


def test_a_payment_intent_that_needs_the_customer_is_a_charge_awaiting_them_with_what_stripe_js_needs(
    stripe_processor: Any, stripe_double: Any
) -> None:
    awaiting = charge(stripe_processor, unique("ref"), "pm_card_authenticationRequired")
    [intent] = stripe_double.intents
    assert (awaiting.id, awaiting.status, intent["status"]) == (intent["id"], "requires_action", "requires_action")
    assert awaiting.client_secret == intent["client_secret"] and awaiting.client_secret.startswith(intent["id"])
    assert dict(awaiting.next_action) == intent["next_action"] and awaiting.next_action["type"] == "use_stripe_sdk"


def test_off_session_a_card_that_needs_the_customer_is_declined_authentication_required_and_left_closed(
    stripe_processor: Any, stripe_double: Any
) -> None:
    with pytest.raises(Declined) as declined:
        charge(stripe_processor, unique("ref"), "pm_card_authenticationRequired", off_session=True)
    assert declined.value.decline_code == "authentication_required"
    [intent] = stripe_double.intents
    assert intent["status"] == "requires_payment_method" and intent["next_action"] is None
    [seen] = stripe_double.seen
    assert seen.params["off_session"] == "true"


def test_on_session_charges_do_not_send_off_session_or_customer(stripe_processor: Any, stripe_double: Any) -> None:
    """Parameters are sent only when set: a reference minted before they existed is re-sent unchanged."""
    charge(stripe_processor, unique("ref"))
    [seen] = stripe_double.seen
    assert "off_session" not in seen.params and "customer" not in seen.params


def test_a_saved_card_of_a_customer_is_charged_with_the_customer(stripe_processor: Any, stripe_double: Any) -> None:
    customer = stripe_double.add_customer("pm_saved_card_1")
    charge(stripe_processor, unique("ref"), "pm_saved_card_1", customer=customer)
    [intent] = stripe_double.intents
    assert (intent["customer"], intent["status"]) == (customer, "succeeded")


def test_an_unknown_customer_is_an_invalid_request_naming_it(stripe_processor: Any, stripe_double: Any) -> None:
    with pytest.raises(InvalidPaymentRequest) as refused:
        charge(stripe_processor, unique("ref"), customer="cus_nobody")
    assert (refused.value.param, refused.value.code) == ("customer", "resource_missing")
    assert stripe_double.intents == []


def test_a_saved_card_without_its_customer_is_an_invalid_source(stripe_processor: Any, stripe_double: Any) -> None:
    stripe_double.add_customer("pm_saved_card_2")
    with pytest.raises(InvalidPaymentSource):
        charge(stripe_processor, unique("ref"), "pm_saved_card_2")


def test_an_unknown_payment_method_is_an_invalid_source_and_creates_nothing(
    stripe_processor: Any, stripe_double: Any
) -> None:
    with pytest.raises(InvalidPaymentSource):
        charge(stripe_processor, unique("ref"), "pm_card_doesNotExist")
    assert stripe_double.intents == []


def test_an_amount_below_stripes_minimum_is_an_invalid_request_naming_the_parameter(stripe_processor: Any) -> None:
    with pytest.raises(InvalidPaymentRequest) as refused:
        charge(stripe_processor, unique("ref"), amount=10)
    assert (refused.value.param, refused.value.code) == ("amount", "amount_too_small")


def test_a_429_is_unavailable(stripe_double: Any) -> None:
    stripe_double.arm(Fault.RATE_LIMIT)
    with pytest.raises(ProcessorUnavailable):
        charge(adapter(stripe_double), unique("ref"))
    assert stripe_double.intents == []


def test_a_5xx_is_unavailable_and_stripe_keeps_answering_it_under_that_reference(stripe_double: Any) -> None:
    processor, ref = adapter(stripe_double), unique("ref")
    stripe_double.arm(Fault.SERVER_ERROR, create=True)
    with pytest.raises(ProcessorUnavailable):
        charge(processor, ref)
    # The SDK retried (same key) and got the saved 500 each time; so does a later call of ours.
    with pytest.raises(ProcessorUnavailable):
        charge(processor, ref)
    assert len(stripe_double.intents) == 1
    assert stripe_double.keys() == {ref}
    assert [s.status for s in stripe_double.seen] == [500] * 6
    assert [s.replayed for s in stripe_double.seen] == [False] + [True] * 5


def test_the_sdk_retries_a_lost_answer_with_the_same_key_and_gets_the_first_payment_intent(
    stripe_processor: Any, stripe_double: Any
) -> None:
    ref = unique("ref")
    stripe_double.arm(Fault.LOSE_ANSWER)
    charged = charge(stripe_processor, ref)
    [intent] = stripe_double.intents
    assert charged.id == intent["id"]
    assert [(s.idempotency_key, s.replayed, s.answered) for s in stripe_double.seen] == [
        (ref, False, False),
        (ref, True, True),
    ]


def test_a_lost_answer_without_retries_left_is_unavailable(stripe_double: Any) -> None:
    stripe_double.arm(Fault.LOSE_ANSWER)
    with pytest.raises(ProcessorUnavailable):
        charge(adapter(stripe_double, retries=0), unique("ref"))
    assert len(stripe_double.intents) == 1  # created: only the answer was lost


def test_a_slow_answer_times_out_as_unavailable_and_the_sdk_retry_meets_the_request_in_flight(
    stripe_double: Any,
) -> None:
    ref = unique("ref")
    stripe_double.arm(Fault.SLOW, seconds=3.0)
    with pytest.raises(ProcessorUnavailable):
        charge(adapter(stripe_double, retries=1, attempt_s=1.0), ref, timeout_s=4.0)
    # The first attempt timed out; the SDK's retry (same key) arrived while it still ran: 409.
    assert [(s.idempotency_key, s.status) for s in stripe_double.seen] == [(ref, 409)]
    wait_until(lambda: len(stripe_double.seen) == 2)  # the slow request finishes at the double
    assert len(stripe_double.intents) == 1
    assert charge(adapter(stripe_double), ref).id == stripe_double.intents[0]["id"]


def test_a_connection_refused_is_unavailable() -> None:
    from tests.stripe_double import StripeDouble

    with StripeDouble() as gone:
        url = gone.url
    processor = StripeProcessor(lambda: TEST_KEY, api_base=url, max_network_retries=1, attempt_timeout_s=1.0)
    with pytest.raises(ProcessorUnavailable):
        charge(processor, unique("ref"))


def test_our_reference_with_other_parameters_is_an_idempotency_error_and_no_second_payment_intent(
    stripe_processor: Any, stripe_double: Any
) -> None:
    ref = unique("ref")
    charge(stripe_processor, ref, amount=1000)
    with pytest.raises(ProcessorIdempotencyError):
        charge(stripe_processor, ref, amount=2000)
    assert len(stripe_double.intents) == 1


@pytest.mark.parametrize("key", ["sk_test_wrong", RESTRICTED_KEY])
def test_authentication_and_permission_errors_are_misconfiguration(stripe_double: Any, key: str) -> None:
    with pytest.raises(ProcessorMisconfigured):
        charge(adapter(stripe_double, key=key), unique("ref"))
    assert stripe_double.intents == []


def test_no_time_left_sends_nothing(stripe_processor: Any, stripe_double: Any) -> None:
    with pytest.raises(ProcessorUnavailable):
        charge(stripe_processor, unique("ref"), timeout_s=0.4)
    assert stripe_double.seen == []


def test_the_api_key_is_read_for_every_charge_so_a_rotation_is_picked_up(stripe_double: Any) -> None:
    keys = iter(["sk_test_old_revoked", TEST_KEY])
    processor = StripeProcessor(lambda: next(keys), api_base=stripe_double.url, max_network_retries=0)
    with pytest.raises(ProcessorMisconfigured):
        charge(processor, unique("ref"))
    assert charge(processor, unique("ref")).id.startswith("pi_")
