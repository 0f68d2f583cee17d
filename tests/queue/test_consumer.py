"""One payment per merchant and key through the queue: duplicates in a batch, across invocations, re-sent,
redelivered after a crash, and shared with HTTP; poison messages parked, never charged, never blocking."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from typing import Any

import pytest

from tests.queue.conftest import message
from tests.support import FakeContext, payment_event, payments_of, unique, visa


def _merchant() -> str:
    return f"arn:aws:iam::111111111111:user/{unique('m')}"


def _body(**fields: Any) -> str:
    return json.dumps(visa(**fields))


def _dead_letters(dead_letter_queue: tuple[Any, str]) -> list[dict[str, Any]]:
    sqs, url = dead_letter_queue
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0)
    return list(got.get("Messages", []))


def test_a_message_creates_one_payment_and_its_duplicates_in_the_batch_replay(
    consume: Any, dynamodb: Any, settings: Any, processor: Any
) -> None:
    merchant, key = _merchant(), unique("k")
    first, again = message(_body(), key, merchant), message(_body(), key, merchant)
    assert consume(first, again) == []
    assert len(payments_of(dynamodb.client, settings.payments_table, merchant)) == 1
    assert len(processor.charges) == 1


def test_a_producer_resend_is_a_replay(consume: Any, dynamodb: Any, settings: Any) -> None:
    merchant, key = _merchant(), unique("k")
    assert consume(message(_body(), key, merchant)) == []
    assert consume(message(_body(), key, merchant)) == []  # a new message id, the same request
    assert len(payments_of(dynamodb.client, settings.payments_table, merchant)) == 1


def test_two_invocations_with_the_same_message_charge_once(
    consume: Any, dynamodb: Any, settings: Any, processor: Any
) -> None:
    merchant, key = _merchant(), unique("k")
    record = message(_body(source="tok_slow"), key, merchant)  # slow: both invocations overlap
    failures: list[list[str]] = []
    threads = [threading.Thread(target=lambda: failures.append(consume(record))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # One finished it, the other found it in progress and left it for SQS to deliver again
    assert sorted(len(f) for f in failures) == [0, 1]
    assert consume(record) == []  # the redelivery replays
    assert len(payments_of(dynamodb.client, settings.payments_table, merchant)) == 1
    assert len(processor.charges) == 1


def test_http_and_queue_with_one_merchant_and_key_are_one_payment(consume: Any, dynamodb: Any, settings: Any) -> None:
    from payments_service.handlers import api

    merchant, key = _merchant(), unique("k")
    with contextlib.redirect_stdout(io.StringIO()):
        created = api.lambda_handler(payment_event(key, visa(), merchant=merchant), FakeContext())
    assert created["statusCode"] == 201
    assert consume(message(_body(), key, merchant)) == []
    # ...and the other way round: the queue first, then an HTTP retry replays it
    other_key = unique("k")
    assert consume(message(_body(), other_key, merchant)) == []
    with contextlib.redirect_stdout(io.StringIO()):
        replay = api.lambda_handler(payment_event(other_key, visa(), merchant=merchant), FakeContext())
    assert replay["statusCode"] == 201 and replay["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    assert len(payments_of(dynamodb.client, settings.payments_table, merchant)) == 2


def test_a_decline_is_done_and_replayed(consume: Any, processor: Any) -> None:
    merchant, key = _merchant(), unique("k")
    record = message(_body(source="tok_chargeDeclined"), key, merchant)
    assert consume(record) == []
    calls = processor.calls
    assert consume(record) == [] and processor.calls == calls  # the recorded decline, not a new attempt


def test_a_transient_failure_is_delivered_again_and_the_rest_of_the_batch_goes_on(
    consume: Any, dynamodb: Any, settings: Any
) -> None:
    merchant = _merchant()
    flaky = message(_body(source="tok_processingError"), unique("k"), merchant)
    fine = message(_body(), unique("k"), merchant)
    assert consume(flaky, fine) == [flaky["messageId"]]
    assert len(payments_of(dynamodb.client, settings.payments_table, merchant)) == 1


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda m, k: message("{not json", k, m), "malformed-body"),
        (lambda m, k: message(_body(extra="x"), k, m), "invalid-request"),
        (lambda m, k: message(_body(), None, m), "missing-idempotency-key"),
        (lambda m, k: message(_body(), "has space", m), "invalid-idempotency-key"),
        (lambda m, k: message(_body(), k, None), "unauthenticated"),
        (lambda m, k: message(_body(source="tok_unknown"), k, m), "invalid-payment-source"),
    ],
)
def test_a_poison_message_is_parked_with_its_reason_never_charged_never_blocking(
    consume: Any, dynamodb: Any, settings: Any, processor: Any, dead_letter_queue: Any, build: Any, reason: str
) -> None:
    merchant = _merchant()
    poison = build(merchant, unique("k"))
    fine = message(_body(), unique("k"), merchant)
    charged_before = len(processor.charges)
    assert consume(poison, fine) == []  # parked, so nothing for SQS to deliver again
    parked = _dead_letters(dead_letter_queue)
    assert [m["MessageAttributes"]["Dead-Letter-Reason"]["StringValue"] for m in parked] == [reason]
    assert parked[0]["Body"] == poison["body"]
    assert len(processor.charges) == charged_before + 1  # only the good message was charged
    assert len(payments_of(dynamodb.client, settings.payments_table, merchant)) == 1


def test_a_key_reused_with_another_body_is_parked(consume: Any, dead_letter_queue: Any) -> None:
    merchant, key = _merchant(), unique("k")
    assert consume(message(_body(), key, merchant)) == []
    assert consume(message(_body(amount=5), key, merchant)) == []
    parked = _dead_letters(dead_letter_queue)
    assert [m["MessageAttributes"]["Dead-Letter-Reason"]["StringValue"] for m in parked] == ["idempotency-key-reused"]


def test_without_a_dead_letter_queue_a_poison_message_is_left_to_sqs(settings: Any, processor: Any, clock: Any) -> None:
    from payments_service import bootstrap
    from payments_service.handlers import queue

    bootstrap.use(bootstrap.build(settings, processor=processor, clock=clock))  # no queue URL
    try:
        poison = message("{", unique("k"), _merchant())
        with contextlib.redirect_stdout(io.StringIO()):
            answer = queue.lambda_handler({"Records": [poison]}, FakeContext())
    finally:
        bootstrap.use(None)
    assert answer["batchItemFailures"] == [{"itemIdentifier": poison["messageId"]}]  # never lost


class Death(BaseException):
    """The invocation dies (timeout, out of memory): nothing after it runs, nothing is reported."""


def test_a_batch_redelivered_after_a_crash_midway_charges_each_message_once(
    consume: Any, dynamodb: Any, settings: Any, processor: Any, clock: Any
) -> None:
    merchant = _merchant()
    done, dying = message(_body(amount=100), unique("k"), merchant), message(_body(amount=200), unique("k"), merchant)
    real_charge = processor.charge
    calls = {"n": 0}

    def charge_then_die_on_the_second(**kwargs: Any) -> Any:
        calls["n"] += 1
        charge = real_charge(**kwargs)
        if calls["n"] == 2:
            raise Death
        return charge

    processor.charge = charge_then_die_on_the_second
    with pytest.raises(Death):
        consume(done, dying, remaining_ms=5_000)
    processor.charge = real_charge
    # SQS delivers the whole batch again once the visibility timeout passes (and with it the lease)
    clock.advance(120_000)
    assert consume(done, dying) == []
    payments = payments_of(dynamodb.client, settings.payments_table, merchant)
    assert sorted(int(p["amount"]["N"]) for p in payments) == [100, 200]
    assert len(processor.charges) == 2  # the dead invocation's charge was reused by reference


def test_a_batch_with_too_little_time_left_is_delivered_again_not_cut_off(
    consume: Any, dynamodb: Any, settings: Any, processor: Any
) -> None:
    merchant = _merchant()
    record = message(_body(), unique("k"), merchant)
    # Less time than a DynamoDB call needs within the budget (dal/deadline.py): nothing is claimed or charged
    assert consume(record, remaining_ms=2_000) == [record["messageId"]]
    assert payments_of(dynamodb.client, settings.payments_table, merchant) == []
    assert consume(record) == []  # the next delivery, with time, charges it once
    assert len(payments_of(dynamodb.client, settings.payments_table, merchant)) == 1


def test_a_message_older_than_its_key_is_kept_is_parked_never_charged_and_stays_old_after_a_redrive(
    consume: Any, dynamodb: Any, settings: Any, dead_letter_queue: Any, processor: Any
) -> None:
    import time

    sqs, url = dead_letter_queue
    who, key = f"arn:aws:iam::111111111111:user/{unique('m')}", unique("k")
    body = json.dumps({"amount": 700, "currency": "EUR", "source": "tok_visa"})
    day_old = int(time.time() * 1000) - settings.retention_seconds * 1000
    calls = processor.calls
    # When a message redriven from the dead-letter queue a day later arrives (its key may be gone)
    assert consume(message(body, key, who, sent_ms=day_old)) == []
    # Then it is not charged, and parked with its reason and its first send time
    assert processor.calls == calls and payments_of(dynamodb.client, settings.payments_table, who) == []
    [parked] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], MaxNumberOfMessages=10)["Messages"]
    attributes = parked["MessageAttributes"]
    assert attributes["Dead-Letter-Reason"]["StringValue"] == "message-older-than-key-retention"
    assert attributes["Original-Sent-Timestamp"]["StringValue"] == str(day_old)
    # And a copy redriven again (SQS stamps a new SentTimestamp) is still known to be old
    again = message(body, key, who)
    again["messageAttributes"]["Original-Sent-Timestamp"] = {"stringValue": str(day_old), "dataType": "String"}
    assert consume(again) == [] and processor.calls == calls
    # While a message an hour younger than the retention's margin is charged
    fresh = int(time.time() * 1000) - (settings.retention_seconds - 2 * 3600) * 1000
    assert consume(message(body, unique("k"), who, sent_ms=fresh)) == []
    assert processor.calls == calls + 1
