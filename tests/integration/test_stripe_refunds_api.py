"""POST /payments/{id}/refunds through the real handler and embedded DynamoDB, with the Stripe adapter and the
real SDK against the test double: what the merchant gets, what is recorded and what Stripe saw."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from payments_service.dal.refunds_table import from_item as refund_from_item
from payments_service.idempotency.records import Status
from tests.stripe_double import Endpoint, Fault
from tests.support import payment_event, race, refund_event, stored_payment, unique

from .test_stripe_payments_api import card, new_merchant, record

REFUNDS = Endpoint.REFUNDS


@pytest.fixture
def processor(stripe_processor: Any) -> Any:
    """Every test here runs the handler with the Stripe adapter (conftest's `deps` takes this processor)."""
    return stripe_processor


def stripe_payment(invoke: Any, merchant: str, amount: int) -> tuple[str, str]:
    """(payment id, PaymentIntent id) of a payment charged through the double."""
    created = invoke(payment_event(unique("k"), card(amount=amount), merchant=merchant))
    assert created["statusCode"] == 201, created
    payment = json.loads(created["body"])
    return payment["id"], payment["processor_payment_id"]


def stored_refund(dynamodb: Any, settings: Any, payment_id: str, refund_id: str) -> Any:
    item = dynamodb.client.get_item(
        TableName=settings.refunds_table,
        Key={"payment_id": {"S": payment_id}, "refund_id": {"S": refund_id}},
        ConsistentRead=True,
    )["Item"]
    return refund_from_item(item)


def test_a_refund_is_201_with_one_stripe_refund_under_one_key_and_its_replay_is_identical(
    invoke: Any, stripe_double: Any, dynamodb: Any, settings: Any
) -> None:
    merchant, key = new_merchant(), unique("r")
    pid, intent = stripe_payment(invoke, merchant, 1000)
    event = refund_event(pid, key, {"amount": 400}, merchant=merchant)
    created = invoke(event)
    assert created["statusCode"] == 201, created
    body = json.loads(created["body"])
    assert (body["payment_id"], body["amount"], body["currency"]) == (pid, 400, "USD")
    # At Stripe: one Refund of that PaymentIntent, under the key's reference
    [at_stripe] = stripe_double.refunds
    assert (at_stripe["payment_intent"], at_stripe["amount"], at_stripe["currency"]) == (intent, 400, "usd")
    reference = record(dynamodb, settings, merchant, key).reference
    assert stripe_double.keys(REFUNDS) == {reference}
    # Our payment id travels with it: Stripe's events about the refund name the payment to update
    assert at_stripe["metadata"] == {"idempotency_reference": reference, "payment_id": pid}
    assert stored_refund(dynamodb, settings, pid, body["id"]).processor_refund_id == at_stripe["id"]
    # The replay is our record's: same bytes, Stripe not called again
    again = invoke(event)
    assert (again["statusCode"], again["body"]) == (201, created["body"])
    assert again["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    assert len(stripe_double.requests(REFUNDS)) == 1 and len(stripe_double.refunds) == 1


def test_twenty_racing_refunds_of_ten_percent_make_exactly_ten_stripe_refunds(
    invoke: Any, stripe_double: Any, dynamodb: Any, settings: Any
) -> None:
    amount, racers = 10_000, 20
    merchant = new_merchant()
    pid, intent = stripe_payment(invoke, merchant, amount)
    events = [refund_event(pid, unique(f"r{i}"), {"amount": amount // 10}, merchant=merchant) for i in range(racers)]
    answers = race(invoke, events)
    statuses = Counter(a["statusCode"] for a in answers)
    assert statuses == {201: 10, 409: 10}, statuses
    # At Stripe: exactly ten Refunds, each under its own key, adding up to the payment and no more
    refunds = stripe_double.refunds
    assert len(refunds) == 10
    assert stripe_double.amount_refunded(intent) == sum(r["amount"] for r in refunds) == amount
    assert len(stripe_double.keys(REFUNDS)) == 10
    assert len({r["metadata"]["idempotency_reference"] for r in refunds}) == 10
    assert all(s.status == 200 and not s.replayed for s in stripe_double.requests(REFUNDS))
    created = [json.loads(a["body"]) for a in answers if a["statusCode"] == 201]
    processor_ids = {stored_refund(dynamodb, settings, pid, r["id"]).processor_refund_id for r in created}
    assert processor_ids == {r["id"] for r in refunds}
    _, stored = stored_payment(dynamodb, settings, pid)
    assert (stored.amount_refunded, stored.amount_pending) == (amount, 0)


def test_after_a_stripe_500_saved_under_the_key_retries_stay_503_and_never_refund_twice(
    invoke: Any, stripe_double: Any, dynamodb: Any, settings: Any, clock: Any
) -> None:
    merchant, key = new_merchant(), unique("r")
    pid, intent = stripe_payment(invoke, merchant, 1000)
    event = refund_event(pid, key, {"amount": 400}, merchant=merchant)
    # Given Stripe made the Refund, then failed with a 500 that it saved under our key
    stripe_double.arm(Fault.SERVER_ERROR, on=REFUNDS, create=True)
    assert invoke(event)["statusCode"] == 503
    reference = record(dynamodb, settings, merchant, key).reference
    # When the client retries (each a takeover of the released key)
    for _ in range(2):
        clock.advance(1_000)
        assert invoke(event)["statusCode"] == 503
    # Then: the same reference each time, one Refund at Stripe, and the reservation still held for the retry
    released = record(dynamodb, settings, merchant, key)
    assert (released.status, released.reference) == (Status.RELEASED, reference)
    assert stripe_double.keys(REFUNDS) == {reference}
    assert len(stripe_double.refunds) == 1 and stripe_double.amount_refunded(intent) == 400
    _, stored = stored_payment(dynamodb, settings, pid)
    assert (stored.amount_refunded, stored.amount_pending) == (0, 400)


def test_stripe_refusing_the_refund_is_409_not_refundable_and_the_reservation_is_given_back(
    invoke: Any, stripe_double: Any, stripe_processor: Any, dynamodb: Any, settings: Any
) -> None:
    merchant = new_merchant()
    pid, intent = stripe_payment(invoke, merchant, 1000)
    # Given 700 of it was refunded at Stripe outside this API (from the Dashboard, say)
    stripe_processor.refund(reference=unique("dashboard"), charge_id=intent, amount=700, currency="USD")
    # When the merchant refunds 400 here, which fits our balance but not Stripe's
    answer = invoke(refund_event(pid, unique("r"), {"amount": 400}, merchant=merchant))
    # Then Stripe's amount_too_large is a 409 payment-not-refundable, and nothing stays reserved
    assert answer["statusCode"] == 409, answer
    assert json.loads(answer["body"])["type"] == "urn:idempotent-payments:problem:payment-not-refundable"
    assert [s.status for s in stripe_double.requests(REFUNDS)] == [200, 400]
    assert len(stripe_double.refunds) == 1 and stripe_double.amount_refunded(intent) == 700
    item, stored = stored_payment(dynamodb, settings, pid)
    assert (stored.amount_refunded, stored.amount_pending, int(item["available"]["N"])) == (0, 0, 1000)
