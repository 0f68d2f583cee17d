"""Stripe as it behaves after the first answer, end to end: the handlers, the real SDK, and the double's own
signed events delivered to POST /webhooks/stripe twice, out of order and late, as Stripe may.

3-D Secure completed or failed by the customer, a PaymentIntent abandoned and canceled by the follow-up, a
refund that starts pending, a refund that fails days after it succeeded (given back exactly once), and a
refund whose every answer was lost, found by its reference."""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.stripe_double import Endpoint, Fault
from tests.support import (
    FakeContext,
    get_event,
    get_refund_event,
    payment_event,
    refund_event,
    stored_payment,
    unique,
)

from .test_stripe_payments_api import card, new_merchant
from .test_stripe_webhook import webhook_event

Webhook = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def processor(stripe_processor: Any) -> Any:
    return stripe_processor


@pytest.fixture
def settings(dynamodb: Any, stripe_double: Any) -> Any:
    from payments_service.models.settings import Settings

    return Settings.from_env({**os.environ, "STRIPE_WEBHOOK_SECRET": stripe_double.events.secret})


@pytest.fixture
def deliver(deps: Any) -> Iterator[Callable[..., dict[str, Any]]]:
    """POST one of the double's events to the webhook's Lambda handler, signed as Stripe signs it."""
    from payments_service import bootstrap
    from payments_service.handlers import webhooks

    def call(double: Any, event: dict[str, Any], *, at: int | None = None, secret: str | None = None) -> Any:
        payload, signature = double.events.signed(event, at=at, secret=secret)
        request = webhook_event(payload, signature)
        bootstrap.use(deps)
        with contextlib.redirect_stdout(io.StringIO()):
            return webhooks.lambda_handler(request, FakeContext(10_000))

    yield call


def events_about(double: Any, object_id: str) -> list[dict[str, Any]]:
    return [e for e in double.events.all if e["data"]["object"]["id"] == object_id]


def deliver_all_twice_newest_first(deliver: Any, double: Any, object_id: str) -> list[str]:
    """Every event about the object, newest first, each twice: the outcomes the webhook answered."""
    outcomes = []
    for event in reversed(events_about(double, object_id)):
        for _ in range(2):
            answer = deliver(double, event)
            assert answer["statusCode"] == 200, answer
            outcomes.append(json.loads(answer["body"])["outcome"])
    return outcomes


def status_of(invoke: Any, payment_id: str, who: str) -> Any:
    return json.loads(invoke(get_event(payment_id, who))["body"])


def awaiting_customer(invoke: Any, double: Any, who: str) -> tuple[str, str]:
    created = invoke(payment_event(unique("k"), card("pm_card_authenticationRequired"), merchant=who))
    assert created["statusCode"] == 202, created
    [intent] = [i for i in double.intents if i["status"] == "requires_action"]
    return json.loads(created["body"])["id"], intent["id"]


@pytest.mark.parametrize(("succeed", "final"), [(True, "succeeded"), (False, "failed")])
def test_3ds_completed_or_failed_by_the_customer_moves_the_payment_through_stripes_events(
    invoke: Any, deliver: Any, stripe_double: Any, succeed: bool, final: str
) -> None:
    who = new_merchant()
    payment_id, intent = awaiting_customer(invoke, stripe_double, who)
    stripe_double.authenticate(intent, succeed=succeed)
    outcomes = deliver_all_twice_newest_first(deliver, stripe_double, intent)
    # The newest (the customer's result) applies once; its redelivery and every older event change nothing
    assert outcomes.count("applied") == 1 and outcomes[0] == "applied"
    shown = status_of(invoke, payment_id, who)
    assert shown["status"] == final and "client_secret" not in shown
    if not succeed:
        assert shown["decline_code"] == "payment_intent_authentication_failure"


def test_an_abandoned_3ds_payment_is_canceled_at_stripe_by_the_follow_up(
    invoke: Any, deps: Any, clock: Any, settings: Any, stripe_double: Any
) -> None:
    who = new_merchant()
    payment_id, intent = awaiting_customer(invoke, stripe_double, who)
    clock.advance((settings.requires_action_timeout_seconds + 60) * 1000)
    assert deps.follow_up()["payments_canceled"] == 1
    [at_stripe] = [i for i in stripe_double.intents if i["id"] == intent]
    assert (at_stripe["status"], at_stripe["cancellation_reason"]) == ("canceled", "abandoned")
    assert status_of(invoke, payment_id, who)["status"] == "canceled"


def test_a_follow_up_finds_a_3ds_payment_the_customer_completed_without_an_event(
    invoke: Any, deps: Any, clock: Any, stripe_double: Any
) -> None:
    """No event arrived (a lost delivery): the follow-up asks Stripe for the PaymentIntent itself."""
    who = new_merchant()
    payment_id, intent = awaiting_customer(invoke, stripe_double, who)
    stripe_double.authenticate(intent, succeed=True)
    clock.advance(16 * 60 * 1000)
    assert deps.follow_up()["payments_succeeded"] == 1
    assert status_of(invoke, payment_id, who)["status"] == "succeeded"


def test_a_replayed_event_older_than_the_tolerance_or_badly_signed_changes_nothing(
    invoke: Any, deliver: Any, stripe_double: Any
) -> None:
    who = new_merchant()
    payment_id, intent = awaiting_customer(invoke, stripe_double, who)
    stripe_double.authenticate(intent, succeed=True)
    [succeeded] = [e for e in events_about(stripe_double, intent) if e["type"] == "payment_intent.succeeded"]
    old = deliver(stripe_double, succeeded, at=int(time.time()) - 301)
    forged = deliver(stripe_double, succeeded, secret="whsec_not_the_endpoints")
    for answer in (old, forged):
        assert answer["statusCode"] == 400
        assert answer["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
    assert status_of(invoke, payment_id, who)["status"] == "requires_action"
    assert json.loads(deliver(stripe_double, succeeded)["body"])["outcome"] == "applied"


def paid(invoke: Any, who: str, source: str, amount: int = 1000) -> str:
    created = invoke(payment_event(unique("k"), card(source, amount), merchant=who))
    assert created["statusCode"] == 201, created
    return str(json.loads(created["body"])["id"])


def test_a_refund_that_fails_after_succeeding_is_given_back_exactly_once_and_is_refundable_again(
    invoke: Any, deliver: Any, dynamodb: Any, settings: Any, stripe_double: Any
) -> None:
    who = new_merchant()
    payment_id = paid(invoke, who, "pm_card_refundFail")
    made = invoke(refund_event(payment_id, unique("r"), {"amount": 600}, merchant=who))
    assert made["statusCode"] == 201 and json.loads(made["body"])["status"] == "succeeded", made
    refund_id = json.loads(made["body"])["id"]
    [at_stripe] = stripe_double.refunds
    # Days later the bank returns it: Stripe marks it failed and says so, more than once and in any order
    stripe_double.settle_refunds()
    outcomes = deliver_all_twice_newest_first(deliver, stripe_double, at_stripe["id"])
    assert outcomes.count("applied") == 1
    _, balance = stored_payment(dynamodb, settings, payment_id)
    assert (balance.amount_refunded, balance.amount_available) == (0, 1000)
    assert json.loads(invoke(get_refund_event(payment_id, refund_id, merchant=who))["body"])["status"] == "failed"
    assert status_of(invoke, payment_id, who)["amount_refunded"] == 0
    # The money that came back is refundable again, at Stripe too
    again = invoke(refund_event(payment_id, unique("r"), {"amount": 1000}, merchant=who))
    assert again["statusCode"] == 201, again
    assert stripe_double.amount_refunded(at_stripe["payment_intent"]) == 1000


def test_a_pending_refund_counts_against_the_payment_and_the_follow_up_records_it_succeeded(
    invoke: Any, deps: Any, clock: Any, dynamodb: Any, settings: Any, stripe_double: Any
) -> None:
    who = new_merchant()
    payment_id = paid(invoke, who, "pm_card_pendingRefund")
    made = invoke(refund_event(payment_id, unique("r"), {"amount": 700}, merchant=who))
    assert made["statusCode"] == 201 and json.loads(made["body"])["status"] == "pending", made
    refund_id = json.loads(made["body"])["id"]
    over = invoke(refund_event(payment_id, unique("r"), {"amount": 400}, merchant=who))
    assert over["statusCode"] == 409, over  # 700 pending + 400 > 1000
    stripe_double.settle_refunds()  # no event delivered: the follow-up asks Stripe
    clock.advance(16 * 60 * 1000)
    assert deps.follow_up()["refunds_succeeded"] == 1
    assert json.loads(invoke(get_refund_event(payment_id, refund_id, merchant=who))["body"])["status"] == "succeeded"
    _, balance = stored_payment(dynamodb, settings, payment_id)
    assert (balance.amount_refunded, balance.amount_available) == (700, 300)


def test_a_refund_whose_every_answer_was_lost_is_found_by_its_reference_never_made_twice(
    invoke: Any, deps: Any, clock: Any, settings: Any, stripe_double: Any
) -> None:
    who = new_merchant()
    payment_id = paid(invoke, who, "pm_card_visa")
    key = unique("r")
    stripe_double.arm(Fault.LOSE_ANSWER, on=Endpoint.REFUNDS, times=3)  # the first try and the SDK's 2 retries
    lost = invoke(refund_event(payment_id, key, {"amount": 300}, merchant=who))
    assert lost["statusCode"] == 503, lost
    clock.advance((settings.reconciler_min_age_seconds + 1) * 1000)  # the first reconciler run after it
    report = deps.reconcile()
    assert report.results["refunded"] == 1, report
    assert len(stripe_double.refunds) == 1 and len(stripe_double.requests(Endpoint.LIST_REFUNDS)) >= 1
    retry = invoke(refund_event(payment_id, key, {"amount": 300}, merchant=who))
    assert retry["statusCode"] == 201 and retry["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    stored = deps.get_refund(who, payment_id, json.loads(retry["body"])["id"])
    assert stored.processor_refund_id == stripe_double.refunds[0]["id"]
