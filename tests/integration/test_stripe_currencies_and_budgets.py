"""Against the double, which applies Stripe's currency rules on its own (tests/stripe_double/currencies.py):
amounts reach Stripe in Stripe's units and come back as ours (finding 18.3), what Stripe cannot hold is a
clear 400 with nothing charged; a refund keeps to the invocation's time like a charge (finding 18.2); every
request carries the pinned API version."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from payments_service.domain.processor import ProcessorUnavailable
from payments_service.processors.stripe import STRIPE_API_VERSION
from tests.stripe_double import Endpoint, Fault
from tests.support import payment_event, refund_event, unique

from .test_stripe_payments_api import new_merchant
from .test_stripe_processor import adapter, charge


@pytest.fixture
def processor(stripe_processor: Any) -> Any:
    return stripe_processor


# (currency, API amount, what the PaymentIntent must hold): figures from Stripe's currencies page.
CHARGES = [("ISK", 1500, 150000), ("UGX", 5000, 500000), ("JPY", 500, 500), ("BHD", 1230, 1230), ("MGA", 150000, 1500)]


@pytest.mark.parametrize(("currency", "ours", "at_stripe"), CHARGES)
def test_a_payment_and_its_refund_reach_stripe_in_stripes_units(
    invoke: Any, stripe_double: Any, currency: str, ours: int, at_stripe: int
) -> None:
    who = new_merchant()
    body = {"amount": ours, "currency": currency, "source": "pm_card_visa"}
    created = invoke(payment_event(unique("k"), body, merchant=who))
    assert created["statusCode"] == 201, created
    payment = json.loads(created["body"])
    assert (payment["amount"], payment["currency"]) == (ours, currency)
    [intent] = stripe_double.intents
    assert (intent["amount"], intent["currency"]) == (at_stripe, currency.lower())
    refunded = invoke(refund_event(payment["id"], unique("r"), {"amount": ours}, merchant=who))
    assert refunded["statusCode"] == 201, refunded
    assert json.loads(refunded["body"])["amount"] == ours
    [refund] = stripe_double.refunds
    assert refund["amount"] == at_stripe and stripe_double.amount_refunded(intent["id"]) == at_stripe


@pytest.mark.parametrize(("currency", "amount"), [("BHD", 1235), ("MGA", 150050)])
def test_an_amount_stripe_cannot_hold_is_400_and_nothing_is_sent(
    invoke: Any, stripe_double: Any, currency: str, amount: int
) -> None:
    body = {"amount": amount, "currency": currency, "source": "pm_card_visa"}
    answer = invoke(payment_event(unique("k"), body, merchant=new_merchant()))
    assert answer["statusCode"] == 400, answer
    problem = json.loads(answer["body"])
    assert problem["type"].endswith("payment-refused-by-processor")
    assert (problem["param"], problem["code"]) == ("amount", "amount_not_representable")
    assert stripe_double.seen == []


def test_a_refund_gives_up_within_the_time_it_is_given(stripe_double: Any) -> None:
    processor = adapter(stripe_double, retries=2, attempt_s=8.0)
    charged = charge(processor, unique("ref"))
    stripe_double.arm(Fault.SLOW, on=Endpoint.REFUNDS, seconds=6.0, times=3)
    started = time.monotonic()
    with pytest.raises(ProcessorUnavailable):
        processor.refund(reference=unique("ref"), charge_id=charged.id, amount=100, currency="EUR", timeout_s=2.0)
    assert time.monotonic() - started < 3.0  # not 3 x 8 s plus backoff


def test_a_refund_with_too_little_time_left_sends_nothing(stripe_double: Any) -> None:
    processor = adapter(stripe_double)
    charged = charge(processor, unique("ref"))
    with pytest.raises(ProcessorUnavailable):
        processor.refund(reference=unique("ref"), charge_id=charged.id, amount=100, currency="EUR", timeout_s=0.2)
    assert stripe_double.requests(Endpoint.REFUNDS) == []


def test_every_request_carries_the_pinned_api_version(stripe_double: Any) -> None:
    processor = adapter(stripe_double)
    ref = unique("ref")
    charged = charge(processor, ref)
    processor.find(ref, not_before_ms=time.time_ns() // 1_000_000)
    processor.charge_state(charged.id)
    assert stripe_double.versions == {STRIPE_API_VERSION}
