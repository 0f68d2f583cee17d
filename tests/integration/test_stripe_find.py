"""The Stripe adapter's find(): Stripe's search on our reference, through the real SDK against the double.

Search is eventually consistent at Stripe (searchable "in under 1 minute" normally, later in an outage):
the double's indexing delay shows what a too-early lookup answers, and why the reconciler waits
RECONCILER_MIN_AGE_SECONDS before trusting "not charged".
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import stripe

from payments_service.domain.payments import payment_id_for
from payments_service.domain.processor import Charge, Charged, Declined, NotCharged, ProcessorUnavailable, Unknown
from payments_service.idempotency.records import Status
from tests.stripe_double import Endpoint, Fault
from tests.stripe_double.server import TEST_KEY
from tests.support import payment_event, unique

from .conftest import World
from .test_stripe_payments_api import card, new_merchant
from .test_stripe_processor import adapter, charge, wait_until


def searches(double: Any) -> list[tuple[str, int]]:
    return [(s.params["query"], s.status) for s in double.requests(Endpoint.SEARCH)]


def test_a_charged_reference_is_found_as_its_payment_intent(stripe_processor: Any, stripe_double: Any) -> None:
    ref = unique("ref")
    charge(stripe_processor, unique("other"))  # another reference's PaymentIntent is never the answer
    charged = charge(stripe_processor, ref)
    assert stripe_processor.find(ref) == Charged(charged)
    assert searches(stripe_double) == [(f"metadata['idempotency_reference']:'{ref}'", 200)]


def test_a_reference_never_charged_is_not_charged(stripe_processor: Any) -> None:
    charge(stripe_processor, unique("other"))
    assert stripe_processor.find(unique("ref")) == NotCharged()


@pytest.mark.parametrize("source", ["pm_card_chargeDeclined", "pm_card_authenticationRequired"])
def test_a_payment_intent_that_moved_no_money_is_not_charged(
    stripe_processor: Any, stripe_double: Any, source: str
) -> None:
    ref = unique("ref")
    with pytest.raises(Declined):
        charge(stripe_processor, ref, source)
    assert len(stripe_double.intents) == 1
    assert stripe_processor.find(ref) == NotCharged()


def test_a_charge_whose_answer_was_lost_is_found_charged(stripe_double: Any) -> None:
    ref = unique("ref")
    stripe_double.arm(Fault.LOSE_ANSWER)
    with pytest.raises(ProcessorUnavailable):
        charge(adapter(stripe_double, retries=0), ref)
    [intent] = stripe_double.intents
    assert adapter(stripe_double).find(ref) == Charged(Charge(intent["id"]))


def test_a_payment_intent_still_processing_is_unknown_until_it_settles(stripe_double: Any) -> None:
    ref = unique("ref")
    stripe_double.slow_seconds = 3.0  # pm_card_slow: the PaymentIntent is "processing" this long
    charging = threading.Thread(
        target=charge, args=(adapter(stripe_double, retries=0, attempt_s=10.0), ref, "pm_card_slow")
    )
    charging.start()
    wait_until(lambda: len(stripe_double.intents) == 1)
    assert stripe_double.intents[0]["status"] == "processing"
    assert adapter(stripe_double).find(ref) == Unknown()
    charging.join(10)
    assert adapter(stripe_double).find(ref) == Charged(Charge(stripe_double.intents[0]["id"]))


def test_search_5xx_on_every_sdk_attempt_is_unknown(stripe_processor: Any, stripe_double: Any) -> None:
    ref = unique("ref")
    charge(stripe_processor, ref)
    stripe_double.arm(Fault.SERVER_ERROR, on=Endpoint.SEARCH, times=3)  # the first try and the SDK's 2 retries
    assert stripe_processor.find(ref) == Unknown()
    assert [status for _, status in searches(stripe_double)] == [500, 500, 500]


def test_one_search_5xx_is_retried_by_the_sdk(stripe_processor: Any, stripe_double: Any) -> None:
    ref = unique("ref")
    charged = charge(stripe_processor, ref)
    stripe_double.arm(Fault.SERVER_ERROR, on=Endpoint.SEARCH)
    assert stripe_processor.find(ref) == Charged(charged)
    assert [status for _, status in searches(stripe_double)] == [500, 200]


def test_a_rejected_key_is_unknown(stripe_double: Any, stripe_processor: Any) -> None:
    ref = unique("ref")
    charge(stripe_processor, ref)
    assert adapter(stripe_double, key="sk_test_wrong").find(ref) == Unknown()


def test_within_the_indexing_delay_a_charged_reference_looks_not_charged(
    stripe_processor: Any, stripe_double: Any
) -> None:
    """Why RECONCILER_MIN_AGE_SECONDS exists: a lookup earlier than Stripe's indexing answers wrongly."""
    ref = unique("ref")
    stripe_double.indexing_delay_seconds = 1.0
    charged = charge(stripe_processor, ref)
    assert stripe_processor.find(ref) == NotCharged()
    wait_until(lambda: stripe_processor.find(ref) == Charged(charged), seconds=5)


def test_the_double_refuses_any_other_search_query_as_stripe_refuses_a_bad_one(stripe_double: Any) -> None:
    client = stripe.StripeClient(TEST_KEY, base_addresses={"api": stripe_double.url}, max_network_retries=0)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.search({"query": "status:'succeeded'"})
    assert (refused.value.http_status, refused.value.param) == (400, "query")
    found = client.v1.payment_intents.search({"query": 'metadata["idempotency_reference"]:"nothing"', "limit": 5})
    assert (found.object, found.data, found.has_more, found.next_page) == ("search_result", [], False, None)
    assert found.url == "/v1/payment_intents/search"


# The reconciler end to end, with the processor PAYMENT_PROCESSOR=stripe builds.


@pytest.fixture
def stripe_world(make_world: Any, stripe_double: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("PAYMENT_PROCESSOR", "stripe")
    monkeypatch.setenv("STRIPE_API_KEY", TEST_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", stripe_double.url)
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "1")
    monkeypatch.setenv("STRIPE_ATTEMPT_TIMEOUT_SECONDS", "2")
    world: World = make_world(processor=None)
    assert world.settings.processor == "stripe"
    return world


def test_a_stripe_charge_whose_answer_was_lost_is_completed_by_one_reconcile_run_and_replayed(
    stripe_world: World, stripe_double: Any
) -> None:
    who, key = new_merchant(), unique("k")
    event = payment_event(key, card(), merchant=who)
    # Given Stripe created the PaymentIntent but both the SDK's attempts lost its answer: 503, key released
    stripe_double.arm(Fault.LOSE_ANSWER, times=2)
    assert stripe_world.call(event).status == 503
    released = stripe_world.record(who, key)
    assert released.status is Status.RELEASED
    [intent] = stripe_double.intents
    assert intent["metadata"] == {"idempotency_reference": released.reference}
    # When one reconcile run looks the reference up at Stripe
    report = stripe_world.deps.reconcile()
    # Then the key is completed: the payment under the id the retry would have built, its 201 recorded
    assert report.results["charged"] == 1 and sum(report.results.values()) == 1
    assert searches(stripe_double) == [(f"metadata['idempotency_reference']:'{released.reference}'", 200)]
    assert stripe_world.record(who, key).status is Status.COMPLETED
    [payment] = stripe_world.payments(who)
    assert payment["payment_id"]["S"] == payment_id_for(released.reference)
    assert payment["processor_payment_id"]["S"] == intent["id"]
    # And a later client retry replays it, without calling Stripe again
    creations = len(stripe_double.seen)
    retry = stripe_world.call(event)
    assert retry.status == 201 and retry.replayed and retry.payment_id == payment["payment_id"]["S"]
    assert len(stripe_double.seen) == creations
    # And Stripe holds exactly one PaymentIntent, every attempt under the one Idempotency-Key
    assert len(stripe_double.intents) == 1
    assert stripe_double.keys() == {released.reference}


def test_a_lookup_inside_the_indexing_delay_leaves_the_key_released_and_the_retry_still_charges_once(
    stripe_world: World, stripe_double: Any
) -> None:
    """What the minimum age guards against (here 0): "not charged" too early records nothing, and only
    Stripe's deduplication of the reference keeps the client's retry from charging twice."""
    who, key = new_merchant(), unique("k")
    event = payment_event(key, card(), merchant=who)
    stripe_double.indexing_delay_seconds = 60.0
    stripe_double.arm(Fault.LOSE_ANSWER, times=2)
    assert stripe_world.call(event).status == 503
    assert stripe_world.deps.reconcile().results["not_charged"] == 1
    assert stripe_world.record(who, key).status is Status.RELEASED and stripe_world.payments(who) == []
    retry = stripe_world.call(event)
    assert retry.status == 201 and not retry.replayed
    [intent] = stripe_double.intents
    [payment] = stripe_world.payments(who)
    assert payment["processor_payment_id"]["S"] == intent["id"]
    assert [s.replayed for s in stripe_double.seen] == [False, True, True]
