"""The reconciler finishes refunds too, and keys it cannot resolve never starve the others (issue 18.1)."""

from __future__ import annotations

import json
from typing import Any

from payments_service.domain.processor import ProcessorRefund, ProcessorUnavailable, RefundRefused, Unknown
from payments_service.domain.refunds import refund_id_for
from payments_service.idempotency.records import Status
from tests.support import payment_event, refund_event, stored_payment, unique, visa

from .conftest import World

# The promise holds whichever way a completion commits (tests/conftest.py).
RUNS_ON_BOTH_COMPLETIONS = True

LOST = "tok_lostResponse"


def _merchant() -> str:
    return f"arn:aws:iam::111111111111:user/{unique('rr')}"


class Refunds:
    """The sandbox, with refunds whose answer is lost (made at the processor, then an error), lookups that
    cannot tell, and the first refund call failing before it reaches the processor."""

    def __init__(self, inner: Any, *, lose: bool = True, lookups_unknown: bool = False, first_fails: bool = False):
        self.inner, self.lose, self.lookups_unknown, self.first_fails = inner, lose, lookups_unknown, first_fails
        self.refund_calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def refund(self, **kwargs: Any) -> ProcessorRefund:
        self.refund_calls.append(kwargs["reference"])
        if self.first_fails:
            self.first_fails = False
            raise ProcessorUnavailable("unreachable: nothing refunded")
        made: ProcessorRefund = self.inner.refund(**kwargs)
        if self.lose:
            raise ProcessorUnavailable("refunded, answer lost")
        return made

    def find_refund(self, **kwargs: Any) -> Any:
        return Unknown() if self.lookups_unknown else self.inner.find_refund(**kwargs)


def _paid(world: World, who: str, source: str = "tok_visa") -> str:
    answer = world.call(payment_event(unique("k"), visa(source=source), merchant=who))
    assert answer.status == 201
    return str(json.loads(answer.body)["id"])


def test_a_refund_whose_answer_was_lost_is_found_and_recorded_as_the_request_would_have(
    make_world: Any, processor: Any, dynamodb: Any
) -> None:
    refunds = Refunds(processor)
    world = make_world(processor=refunds)
    who, key = _merchant(), unique("k")
    pid = _paid(world, who)
    event = refund_event(pid, key, {"amount": 300, "reason": "duplicate"}, merchant=who)
    assert world.call(event).status == 503  # refunded at the processor, answer lost
    record = world.record(who, key)
    assert record.status is Status.RELEASED
    world.clock.advance(5_000)
    report = world.deps.reconcile()
    assert report.results["refunded"] == 1
    # Settled: the reservation is refunded, the refund item exists, the answer recorded
    _, payment = stored_payment(dynamodb, world.settings, pid)
    assert (payment.amount_refunded, payment.amount_pending, payment.reservations) == (300, 0, {})
    done = world.record(who, key)
    assert done.status is Status.COMPLETED
    # Found, not refunded again; a retry replays it, created at the request's time, not the run's
    assert refunds.refund_calls == [record.reference]
    retry = world.call(event)
    body = json.loads(retry.body)
    assert retry.status == 201 and retry.replayed and body["id"] == refund_id_for(record.reference)
    assert (body["amount"], body["reason"], body["status"]) == (300, "duplicate", "succeeded")
    from payments_service.domain.payments import rfc3339

    assert body["created_at"] == rfc3339(record.reference_created_at_ms)


def test_a_refund_never_made_is_retried_under_the_same_reference_then_recorded(
    make_world: Any, processor: Any, dynamodb: Any
) -> None:
    refunds = Refunds(processor, lose=False, first_fails=True)
    world = make_world(processor=refunds)
    who, key = _merchant(), unique("k")
    pid = _paid(world, who, source="tok_refundPending")
    assert world.call(refund_event(pid, key, {"amount": 200}, merchant=who)).status == 503
    reference = world.record(who, key).reference
    assert world.deps.reconcile().results["refunded"] == 1
    assert refunds.refund_calls == [reference, reference]  # the same reference, so never twice at the processor
    _, payment = stored_payment(dynamodb, world.settings, pid)
    assert payment.amount_refunded == 200
    answer = world.call(refund_event(pid, key, {"amount": 200}, merchant=who))
    assert answer.replayed and json.loads(answer.body)["status"] == "pending"  # the processor's status, recorded


def test_a_refund_refused_for_good_during_recovery_records_the_refusal_and_gives_the_amount_back(
    make_world: Any, processor: Any, dynamodb: Any
) -> None:
    class RefusesOnRetry(Refunds):
        def refund(self, **kwargs: Any) -> ProcessorRefund:
            if self.refund_calls:
                raise RefundRefused("charge_disputed")
            return super().refund(**kwargs)

    refunds = RefusesOnRetry(processor, lose=False, first_fails=True)
    world = make_world(processor=refunds)
    who, key = _merchant(), unique("k")
    pid = _paid(world, who)
    assert world.call(refund_event(pid, key, {"amount": 200}, merchant=who)).status == 503
    assert world.deps.reconcile().results["refused"] == 1
    _, payment = stored_payment(dynamodb, world.settings, pid)
    assert (payment.amount_refunded, payment.amount_pending, payment.amount_available) == (0, 0, 1000)
    assert world.record(who, key).status is Status.COMPLETED
    assert world.deps.reconcile().results["refused"] == 0  # out of the index


def test_two_unresolvable_refunds_never_starve_a_lost_charge_and_are_parked_at_the_cap(
    make_world: Any, processor: Any
) -> None:
    # The review's scenario: two refund keys nobody can resolve, a batch of 2, and a charge whose answer was lost
    refunds = Refunds(processor, lookups_unknown=True)
    world = make_world(processor=refunds, reconciler_max_keys_per_run=2, reconciler_max_attempts=3)
    who = _merchant()
    pid = _paid(world, who)
    for _ in range(2):
        assert world.call(refund_event(pid, unique("k"), {"amount": 100}, merchant=who)).status == 503
        world.clock.advance(1_000)
    charge_key = unique("k")
    assert world.call(payment_event(charge_key, visa(source=LOST), merchant=who)).status == 503
    world.clock.advance(1_000)
    first = world.deps.reconcile()
    assert first.results["still_unknown"] == 2 and first.more_waiting  # the two oldest: the refunds
    world.clock.advance(60_000)
    second = world.deps.reconcile()
    # Looked at, the refunds went to the back of the line: the charge is recorded on the next run
    assert second.results["charged"] == 1
    assert world.record(who, charge_key).status is Status.COMPLETED
    # And after the cap they are parked: out of every batch, counted, visible
    for _ in range(3):
        world.clock.advance(60_000)
        world.deps.reconcile()
    later = world.deps.reconcile()
    assert later.parked == 2 and sum(later.results.values()) == 0


def test_a_payment_gone_ends_the_refund_key_cleanly(make_world: Any, processor: Any) -> None:
    world = make_world(processor=Refunds(processor, lose=False, first_fails=True))
    who, key = _merchant(), unique("k")
    pid = _paid(world, who)
    assert world.call(refund_event(pid, key, {"amount": 100}, merchant=who)).status == 503
    world.db.delete_item(TableName=world.settings.payments_table, Key={"payment_id": {"S": pid}})
    assert world.deps.reconcile().results["refused"] == 1
    assert (
        world.db.get_item(TableName=world.settings.idempotency_table, Key={"id": {"S": world_rid(who, key)}}).get(
            "Item"
        )
        is None
    )


def world_rid(who: str, key: str) -> str:
    from payments_service.idempotency.keys import record_id

    return record_id(who, key)


def test_one_bad_key_is_counted_and_the_run_moves_on(make_world: Any, processor: Any) -> None:
    class SecretsFail(Refunds):
        def find(self, reference: str, **kwargs: Any) -> Any:
            if reference == self.broken:
                raise RuntimeError("secretsmanager: sk_live_do_not_log")  # e.g. the API key could not be read
            return self.inner.find(reference, **kwargs)

    refunds = SecretsFail(processor)
    world = make_world(processor=refunds)
    who = _merchant()
    broken, fine = unique("k"), unique("k")
    for key in (broken, fine):
        assert world.call(payment_event(key, visa(source=LOST), merchant=who)).status == 503
        world.clock.advance(1_000)
    refunds.broken = world.record(who, broken).reference
    # And a stored payload that no longer validates
    bad = unique("k")
    assert world.call(payment_event(bad, visa(source=LOST), merchant=who)).status == 503
    world.db.update_item(
        TableName=world.settings.idempotency_table,
        Key={"id": {"S": world_rid(who, bad)}},
        UpdateExpression="SET payload = :p",
        ExpressionAttributeValues={":p": {"S": '{"amount": "not a number"}'}},
    )
    report = world.deps.reconcile()
    assert report.results["failed"] == 2 and report.results["charged"] == 1
    assert world.record(who, fine).status is Status.COMPLETED
    assert {f.record_id for f in report.failures} == {world_rid(who, broken), world_rid(who, bad)}
    assert all("sk_live" not in f.error for f in report.failures)
    assert world.record(who, broken).status is Status.RELEASED  # given back for a later run
