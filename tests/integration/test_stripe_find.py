"""The Stripe adapter's find(): Stripe's list of PaymentIntents by `created`, through the real SDK against
the double.

Stripe's search is not read-after-write (indexed "in under 1 minute" normally, up to an hour in an
outage); lists are. So find() lists every PaymentIntent created since the reference was minted (give or
take clock skew), page by page, and matches our metadata: the double's search lag, an hour here, changes
nothing, and search is never asked.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from payments_service.domain.payments import payment_id_for
from payments_service.domain.processor import Charge, Charged, Declined, NotCharged, ProcessorUnavailable, Unknown
from payments_service.idempotency.records import Status
from payments_service.processors.stripe import CLOCK_SKEW_S, StripeProcessor
from tests.stripe_double import Endpoint, Fault
from tests.stripe_double.server import TEST_KEY
from tests.support import payment_event, unique

from .conftest import World
from .test_stripe_payments_api import card, new_merchant
from .test_stripe_processor import adapter, charge, wait_until

AN_HOUR = 3600.0


@pytest.fixture(autouse=True)
def search_an_hour_behind(stripe_double: Any) -> None:
    """Search as Stripe documents it in an incident: every test here would fail if find() relied on it."""
    stripe_double.indexing_delay_seconds = AN_HOUR


def lists(double: Any) -> list[dict[str, str]]:
    return [s.params for s in double.requests(Endpoint.LIST_INTENTS)]


def minted_now() -> int:
    return time.time_ns() // 1_000_000


def test_a_charged_reference_is_found_at_once_by_listing_from_its_mint_time(
    stripe_processor: Any, stripe_double: Any
) -> None:
    ref, minted = unique("ref"), minted_now()
    charge(stripe_processor, unique("other"))  # another reference's PaymentIntent is never the answer
    charged = charge(stripe_processor, ref)
    assert stripe_processor.find(ref, not_before_ms=minted) == Charged(charged)
    [listed] = lists(stripe_double)
    assert int(listed["created[gte]"]) == minted // 1000 - CLOCK_SKEW_S
    assert int(listed["created[lte]"]) >= int(time.time()) and listed["limit"] == "100"
    assert stripe_double.requests(Endpoint.SEARCH) == []


def test_a_reference_never_charged_is_not_charged(stripe_processor: Any) -> None:
    charge(stripe_processor, unique("other"))
    assert stripe_processor.find(unique("ref"), not_before_ms=minted_now()) == NotCharged()


def test_a_payment_intent_created_before_the_window_is_not_looked_at(stripe_processor: Any, stripe_double: Any) -> None:
    ref = unique("ref")
    charge(stripe_processor, ref)
    later = minted_now() + (CLOCK_SKEW_S + 60) * 1000  # as if the reference were minted well after it
    assert stripe_processor.find(ref, not_before_ms=later) == NotCharged()


def test_the_lookup_pages_through_has_more_to_the_oldest_match(stripe_double: Any) -> None:
    ref, minted = unique("ref"), minted_now()
    processor = adapter(stripe_double)
    charged = charge(processor, ref)
    for _ in range(150):  # newer PaymentIntents push ours onto the second page
        charge(processor, unique("newer"))
    assert processor.find(ref, not_before_ms=minted) == Charged(charged)
    first, second = lists(stripe_double)
    assert "starting_after" not in first and second["starting_after"].startswith("pi_")


def test_without_a_mint_time_the_window_is_stripes_idempotency_window(stripe_double: Any) -> None:
    now = 1_800_000_000.0
    processor = StripeProcessor(
        lambda: TEST_KEY, api_base=stripe_double.url, idempotency_window_s=86_400, now_s=lambda: now
    )
    assert processor.find(unique("ref")) == NotCharged()
    [listed] = lists(stripe_double)
    assert int(listed["created[gte]"]) == int(now) - 86_400 - CLOCK_SKEW_S


def test_a_payment_intent_that_failed_is_not_charged(stripe_processor: Any, stripe_double: Any) -> None:
    ref, minted = unique("ref"), minted_now()
    with pytest.raises(Declined):
        charge(stripe_processor, ref, "pm_card_chargeDeclined")
    assert len(stripe_double.intents) == 1
    assert stripe_processor.find(ref, not_before_ms=minted) == NotCharged()


def test_a_payment_intent_awaiting_its_customer_is_found_as_such(stripe_processor: Any) -> None:
    ref, minted = unique("ref"), minted_now()
    awaiting = charge(stripe_processor, ref, "pm_card_authenticationRequired")
    found = stripe_processor.find(ref, not_before_ms=minted)
    assert isinstance(found, Charged) and found.charge.status == "requires_action"
    assert found.charge.client_secret == awaiting.client_secret


def test_a_charge_whose_answer_was_lost_is_found_charged(stripe_double: Any) -> None:
    ref, minted = unique("ref"), minted_now()
    stripe_double.arm(Fault.LOSE_ANSWER)
    with pytest.raises(ProcessorUnavailable):
        charge(adapter(stripe_double, retries=0), ref)
    [intent] = stripe_double.intents
    assert adapter(stripe_double).find(ref, not_before_ms=minted) == Charged(Charge(intent["id"]))


def test_a_payment_intent_still_processing_is_unknown_until_it_settles(stripe_double: Any) -> None:
    ref, minted = unique("ref"), minted_now()
    stripe_double.slow_seconds = 3.0  # pm_card_slow: the PaymentIntent is "processing" this long
    charging = threading.Thread(
        target=charge, args=(adapter(stripe_double, retries=0, attempt_s=10.0), ref, "pm_card_slow")
    )
    charging.start()
    wait_until(lambda: len(stripe_double.intents) == 1)
    assert stripe_double.intents[0]["status"] == "processing"
    assert adapter(stripe_double).find(ref, not_before_ms=minted) == Unknown()
    charging.join(10)
    assert adapter(stripe_double).find(ref, not_before_ms=minted) == Charged(Charge(stripe_double.intents[0]["id"]))


def test_a_list_5xx_on_every_sdk_attempt_is_unknown_never_not_charged(
    stripe_processor: Any, stripe_double: Any
) -> None:
    stripe_double.arm(Fault.SERVER_ERROR, on=Endpoint.LIST_INTENTS, times=3)  # the first try and 2 retries
    assert stripe_processor.find(unique("ref"), not_before_ms=minted_now()) == Unknown()
    assert len(lists(stripe_double)) == 3


def test_one_list_5xx_is_retried_by_the_sdk(stripe_processor: Any, stripe_double: Any) -> None:
    ref, minted = unique("ref"), minted_now()
    charged = charge(stripe_processor, ref)
    stripe_double.arm(Fault.SERVER_ERROR, on=Endpoint.LIST_INTENTS)
    assert stripe_processor.find(ref, not_before_ms=minted) == Charged(charged)


def test_a_rejected_key_is_unknown(stripe_double: Any, stripe_processor: Any) -> None:
    ref = unique("ref")
    charge(stripe_processor, ref)
    assert adapter(stripe_double, key="sk_test_wrong").find(ref, not_before_ms=minted_now()) == Unknown()


def test_a_lookup_that_runs_out_of_time_is_unknown(stripe_processor: Any, stripe_double: Any) -> None:
    stripe_double.arm(Fault.SLOW, on=Endpoint.LIST_INTENTS, seconds=1.5)
    started = time.monotonic()
    assert stripe_processor.find(unique("ref"), not_before_ms=minted_now(), timeout_s=1.2) == Unknown()
    assert time.monotonic() - started < 3.0


# The reconciler end to end, with the processor PAYMENT_PROCESSOR=stripe builds.


@pytest.fixture
def stripe_world(make_world: Any, stripe_double: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("PAYMENT_PROCESSOR", "stripe")
    monkeypatch.setenv("STRIPE_API_KEY", TEST_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", stripe_double.url)
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "1")
    monkeypatch.setenv("STRIPE_ATTEMPT_TIMEOUT_SECONDS", "2")
    world: World = make_world(processor=None, reconciler_min_age_seconds=60)  # the template's default
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
    # When the first reconcile run after the minimum age looks the reference up at Stripe (search is an
    # hour behind), before any client retry
    stripe_world.clock.advance(61_000)
    report = stripe_world.deps.reconcile()
    # Then the key is completed: the payment under the id the retry would have built, its 201 recorded
    assert report.results["charged"] == 1 and sum(report.results.values()) == 1
    assert stripe_double.requests(Endpoint.SEARCH) == []  # search is an hour behind; the list is not
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


def test_a_reference_stripe_never_saw_is_not_charged_at_once_and_the_retry_charges_once(
    stripe_world: World, stripe_double: Any
) -> None:
    """Not charged, from a consistent list: the key is left released, and the client's retry charges."""
    who, key = new_merchant(), unique("k")
    event = payment_event(key, card(), merchant=who)
    stripe_double.arm(Fault.RATE_LIMIT)  # refused before Stripe ran: nothing exists under the reference
    assert stripe_world.call(event).status == 503
    assert stripe_world.deps.reconcile().results == {}  # younger than the minimum age: not looked at yet
    stripe_world.clock.advance(61_000)
    assert stripe_world.deps.reconcile().results["not_charged"] == 1
    assert stripe_world.record(who, key).status is Status.RELEASED and stripe_world.payments(who) == []
    retry = stripe_world.call(event)
    assert retry.status == 201 and not retry.replayed
    [intent] = stripe_double.intents
    [payment] = stripe_world.payments(who)
    assert payment["processor_payment_id"]["S"] == intent["id"]


def test_a_reconciler_lookup_keeps_to_the_invocations_time_and_leaves_the_key_unknown(
    stripe_world: World, stripe_double: Any
) -> None:
    who, key = new_merchant(), unique("k")
    stripe_double.arm(Fault.LOSE_ANSWER, times=2)
    assert stripe_world.call(payment_event(key, card(), merchant=who)).status == 503
    stripe_world.clock.advance(61_000)
    stripe_double.arm(Fault.SLOW, on=Endpoint.LIST_INTENTS, seconds=10.0, times=3)
    started = time.monotonic()
    report = stripe_world.deps.reconcile(8_000)  # 8 s left: 3 s for Stripe, 5 s kept for the end of the run
    assert time.monotonic() - started < 6.0
    assert report.results["still_unknown"] == 1
    assert stripe_world.record(who, key).status is Status.RELEASED and stripe_world.payments(who) == []
