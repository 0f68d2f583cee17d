"""POST /payments through the real handler and embedded DynamoDB, with the Stripe adapter and the real SDK
against the test double: each answer issue 9 asks for, what it records, and what Stripe saw."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from typing import Any

import pytest

from payments_service.idempotency.records import Status
from tests.proof.oracle import key_record
from tests.stripe_double import Fault
from tests.support import FakeContext, get_event, payment_event, payments_of, unique

PROBLEM = "urn:idempotent-payments:problem:"


@pytest.fixture
def processor(stripe_processor: Any) -> Any:
    """Every test here runs the handler with the Stripe adapter (conftest's `deps` takes this processor)."""
    return stripe_processor


def card(source: str = "pm_card_visa", amount: int = 1000) -> dict[str, Any]:
    return {"amount": amount, "currency": "USD", "source": source}


def new_merchant() -> str:
    return f"arn:aws:iam::111111111111:user/{unique('stripe')}"


def record(dynamodb: Any, settings: Any, merchant: str, key: str) -> Any:
    return key_record(dynamodb.client, settings.idempotency_table, merchant, key)


class Observed:
    def __init__(self) -> None:
        self.printed = io.StringIO()  # EMF metrics
        self.logs: list[logging.LogRecord] = []  # the function's log records

    @property
    def errors(self) -> list[str]:
        return [r.getMessage() for r in self.logs if r.levelno >= logging.ERROR]

    def text(self) -> str:
        formatted = [f"{r.getMessage()} {r.exc_info!r} {r.__dict__}" for r in self.logs]
        return self.printed.getvalue() + "\n".join(formatted)


def invoke_observed(deps: Any, event: dict[str, Any]) -> tuple[dict[str, Any], Observed]:
    """The handler's answer, the metrics it printed and the records its logger emitted."""
    from payments_service import bootstrap
    from payments_service.handlers import api
    from payments_service.handlers.observability import logger

    observed = Observed()
    collector = logging.Handler()
    collector.emit = observed.logs.append  # type: ignore[method-assign]
    bootstrap.use(deps)
    logging.getLogger(logger.name).addHandler(collector)
    try:
        with contextlib.redirect_stdout(observed.printed):
            response = api.lambda_handler(event, FakeContext(20_000))
    finally:
        logging.getLogger(logger.name).removeHandler(collector)
    return response, observed


def printed(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def metric_names(output: str) -> set[str]:
    names: set[str] = set()
    for document in printed(output):
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            names.update(m["Name"] for m in directive["Metrics"])
    return names


def problem_type(response: dict[str, Any]) -> str:
    return str(json.loads(response["body"])["type"]).removeprefix(PROBLEM)


def test_succeeded_is_201_with_the_payment_intent_id_and_get_shows_it(
    invoke: Any, stripe_double: Any, dynamodb: Any, settings: Any
) -> None:
    merchant, key = new_merchant(), unique("k")
    created = invoke(payment_event(key, card(), merchant=merchant))
    assert created["statusCode"] == 201, created
    payment = json.loads(created["body"])
    [intent] = stripe_double.intents
    assert payment["processor_payment_id"] == intent["id"]
    reference = record(dynamodb, settings, merchant, key).reference
    assert stripe_double.keys() == {reference} and intent["metadata"] == {"idempotency_reference": reference}
    fetched = invoke(get_event(payment["id"], merchant))
    assert fetched["statusCode"] == 200 and fetched["body"] == created["body"]
    [stored] = payments_of(dynamodb.client, settings.payments_table, merchant)
    assert stored["processor_payment_id"]["S"] == intent["id"]


def test_a_decline_is_a_recorded_402_with_the_decline_code_replayed_without_calling_stripe(
    invoke: Any, stripe_double: Any
) -> None:
    event = payment_event(unique("k"), card("pm_card_chargeDeclinedInsufficientFunds"), merchant=new_merchant())
    first = invoke(event)
    assert first["statusCode"] == 402 and json.loads(first["body"])["decline_code"] == "insufficient_funds"
    again = invoke(event)
    assert again["statusCode"] == 402 and again["body"] == first["body"]
    assert again["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    assert len(stripe_double.seen) == 1


def test_a_payment_that_needs_the_customer_is_a_202_requires_action_with_what_stripe_js_needs_replayed_as_is(
    invoke: Any, stripe_double: Any, dynamodb: Any, settings: Any
) -> None:
    merchant, key = new_merchant(), unique("k")
    answer = invoke(payment_event(key, card("pm_card_authenticationRequired"), merchant=merchant))
    assert answer["statusCode"] == 202, answer
    body = json.loads(answer["body"])
    [intent] = stripe_double.intents
    assert body["status"] == "requires_action" and intent["status"] == "requires_action"
    assert (body["client_secret"], body["next_action"]) == (intent["client_secret"], intent["next_action"])
    assert record(dynamodb, settings, merchant, key).status is Status.COMPLETED
    again = invoke(payment_event(key, card("pm_card_authenticationRequired"), merchant=merchant))
    assert (again["statusCode"], again["body"]) == (202, answer["body"])
    assert len(stripe_double.intents) == 1


def test_an_unknown_payment_method_is_400_nothing_charged_key_forgotten(
    invoke: Any, stripe_double: Any, dynamodb: Any, settings: Any
) -> None:
    merchant, key = new_merchant(), unique("k")
    answer = invoke(payment_event(key, card("pm_card_doesNotExist"), merchant=merchant))
    assert answer["statusCode"] == 400 and problem_type(answer) == "invalid-payment-source"
    assert stripe_double.intents == []
    assert record(dynamodb, settings, merchant, key) is None


def test_an_amount_below_stripes_minimum_is_400_naming_the_parameter_and_the_key_is_forgotten(
    invoke: Any, stripe_double: Any, dynamodb: Any, settings: Any
) -> None:
    merchant, key = new_merchant(), unique("k")
    answer = invoke(payment_event(key, card(amount=10), merchant=merchant))
    assert answer["statusCode"] == 400 and problem_type(answer) == "payment-refused-by-processor"
    assert json.loads(answer["body"])["param"] == "amount"
    assert record(dynamodb, settings, merchant, key) is None


@pytest.mark.parametrize("fault", [Fault.RATE_LIMIT, Fault.SERVER_ERROR])
def test_429_and_5xx_are_503_with_retry_after_and_the_key_released_keeping_its_reference(
    invoke: Any, stripe_double: Any, dynamodb: Any, settings: Any, fault: Fault
) -> None:
    merchant, key = new_merchant(), unique("k")
    stripe_double.arm(fault, times=3)  # the SDK's own retries meet it too
    answer = invoke(payment_event(key, card(), merchant=merchant))
    assert answer["statusCode"] == 503, answer
    assert int(answer["multiValueHeaders"]["Retry-After"][0]) >= 1
    released = record(dynamodb, settings, merchant, key)
    assert released.status is Status.RELEASED
    assert stripe_double.keys() == {released.reference}


def test_after_a_stripe_500_every_retry_stays_503_under_the_same_reference_and_never_charges_twice(
    invoke: Any, stripe_double: Any, dynamodb: Any, settings: Any, clock: Any
) -> None:
    # Given Stripe created the PaymentIntent, then failed with a 500 that it saved under our key
    merchant, key = new_merchant(), unique("k")
    event = payment_event(key, card(), merchant=merchant)
    stripe_double.arm(Fault.SERVER_ERROR, create=True)
    assert invoke(event)["statusCode"] == 503
    reference = record(dynamodb, settings, merchant, key).reference
    # When the client retries (each a takeover of the released key)
    for _ in range(3):
        clock.advance(1_000)
        again = invoke(event)
        # Then it stays a 503: Stripe replays its 500; no new reference, no second PaymentIntent
        assert again["statusCode"] == 503, again
    assert record(dynamodb, settings, merchant, key).reference == reference
    assert stripe_double.keys() == {reference}
    assert len(stripe_double.intents) == 1
    assert {s.status for s in stripe_double.seen} == {500}


def test_a_429_released_key_is_retried_under_the_same_reference_and_succeeds(
    invoke: Any, stripe_double: Any, dynamodb: Any, settings: Any
) -> None:
    merchant, key = new_merchant(), unique("k")
    event = payment_event(key, card(), merchant=merchant)
    stripe_double.arm(Fault.RATE_LIMIT)  # 429s are not saved under the key: a retry runs for real
    assert invoke(event)["statusCode"] == 503
    retried = invoke(event)
    assert retried["statusCode"] == 201, retried
    assert len(stripe_double.intents) == 1
    assert stripe_double.keys() == {record(dynamodb, settings, merchant, key).reference}


def test_an_idempotency_error_is_a_500_with_an_error_log_and_a_metric_and_no_second_payment_intent(
    deps: Any, stripe_double: Any
) -> None:
    event = payment_event(unique("k"), card(), merchant=new_merchant())
    stripe_double.arm(Fault.IDEMPOTENCY_ERROR)
    answer, observed = invoke_observed(deps, event)
    assert answer["statusCode"] == 500 and problem_type(answer) == "processor-error"
    assert observed.errors, observed.text()
    assert "PaymentProcessorIdempotency" in metric_names(observed.printed.getvalue())
    assert stripe_double.intents == []


@pytest.mark.parametrize("api_key", ["sk_test_revoked", "sk_test_double_restricted"])
def test_authentication_and_permission_errors_are_a_500_with_an_alarmable_metric(
    settings: Any, clock: Any, stripe_double: Any, api_key: str
) -> None:
    from payments_service import bootstrap
    from payments_service.processors.stripe import StripeProcessor

    refused = StripeProcessor(lambda: api_key, api_base=stripe_double.url, max_network_retries=0)
    deps = bootstrap.build(settings, processor=refused, clock=clock)
    try:
        answer, observed = invoke_observed(deps, payment_event(unique("k"), card(), merchant=new_merchant()))
    finally:
        bootstrap.use(None)
    assert answer["statusCode"] == 500 and problem_type(answer) == "processor-error"
    assert observed.errors
    assert "PaymentProcessorAuth" in metric_names(observed.printed.getvalue())
    assert api_key not in observed.text()  # the key is never logged
    assert stripe_double.intents == []


def test_a_timeout_is_503_and_the_retry_gets_the_payment_intent_created_meanwhile(
    invoke: Any, stripe_double: Any, dynamodb: Any, settings: Any
) -> None:
    merchant, key = new_merchant(), unique("k")
    event = payment_event(key, card(), merchant=merchant)
    # Given Stripe answers slower than every attempt the SDK may make within the time left
    stripe_double.arm(Fault.SLOW, seconds=4.0)
    first = invoke(event)
    assert first["statusCode"] == 503, first
    # When the slow request completes at Stripe, and the client retries
    deadline = time.monotonic() + 10
    while not stripe_double.intents and time.monotonic() < deadline:
        time.sleep(0.05)
    retried = invoke(event)
    # Then the retry reuses the reference and gets that very PaymentIntent
    assert retried["statusCode"] == 201, retried
    [intent] = stripe_double.intents
    assert json.loads(retried["body"])["processor_payment_id"] == intent["id"]
    assert stripe_double.keys() == {record(dynamodb, settings, merchant, key).reference}


def test_a_released_key_older_than_the_processor_window_is_422_and_stripe_is_not_called(
    invoke: Any, stripe_double: Any, dynamodb: Any, settings: Any, clock: Any
) -> None:
    merchant, key = new_merchant(), unique("k")
    event = payment_event(key, card(), merchant=merchant)
    stripe_double.arm(Fault.LOSE_ANSWER, times=3)  # created at Stripe; every answer lost
    assert invoke(event)["statusCode"] == 503
    calls = len(stripe_double.seen)
    clock.advance(settings.processor_idempotency_window_seconds * 1000)
    answer = invoke(event)
    assert answer["statusCode"] == 422 and problem_type(answer) == "idempotency-key-expired-at-processor"
    assert len(stripe_double.seen) == calls
    assert record(dynamodb, settings, merchant, key).status is Status.RELEASED  # left to reconciliation
