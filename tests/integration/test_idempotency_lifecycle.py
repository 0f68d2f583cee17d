"""Leases, takeover, fencing, expiry and round trips, against the serialized embedded DynamoDB."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from payments_service.dal.clients import dynamodb_client
from payments_service.dal.idempotency_table import DynamoDBIdempotencyStore, from_item
from payments_service.idempotency import (
    Completion,
    IdempotencyEngine,
    IdempotencyRecord,
    IdempotentRequest,
    RecordConflict,
    Status,
)
from payments_service.idempotency.keys import record_id
from payments_service.logic.create_payment import idempotent_request
from payments_service.models.payments import CreatePaymentRequest
from tests.support import FakeContext, get_event, payment_event, payments_of, unique, visa


def _merchant() -> str:
    return f"arn:aws:iam::111111111111:user/{unique('m')}"


def _item(dynamodb: Any, settings: Any, merchant: str, key: str) -> Any:
    got = dynamodb.client.get_item(
        TableName=settings.idempotency_table, Key={"id": {"S": record_id(merchant, key)}}, ConsistentRead=True
    )
    return from_item(got.get("Item"))


def _calls(dynamodb: Any, action: Any) -> tuple[Any, list[str]]:
    before = len(dynamodb.app.calls)
    result = action()
    return result, dynamodb.app.calls[before:]


def test_round_trips_are_the_fewest_possible(invoke: Any, dynamodb: Any) -> None:
    merchant, key = _merchant(), unique("k")
    event = payment_event(key, visa(), merchant=merchant)
    created, first_calls = _calls(dynamodb, lambda: invoke(event))
    assert first_calls == ["PutItem", "TransactWriteItems"]  # claim + payment-with-response, nothing else
    _, replay_calls = _calls(dynamodb, lambda: invoke(event))
    assert replay_calls == ["PutItem"]  # the failed claim returns the record: no GetItem after it, ever
    _, mismatch_calls = _calls(dynamodb, lambda: invoke(payment_event(key, visa(5), merchant=merchant)))
    assert mismatch_calls == ["PutItem"]
    _, decline_calls = _calls(
        dynamodb, lambda: invoke(payment_event(unique("k"), visa(source="tok_chargeDeclined"), merchant=merchant))
    )
    assert decline_calls == ["PutItem", "TransactWriteItems"]  # the decline is kept, with its recorded answer
    _, transient_calls = _calls(
        dynamodb, lambda: invoke(payment_event(unique("k"), visa(source="tok_processingError"), merchant=merchant))
    )
    assert transient_calls == ["PutItem", "UpdateItem"]
    _, get_calls = _calls(dynamodb, lambda: invoke(get_event(json.loads(created["body"])["id"], merchant=merchant)))
    assert get_calls == ["GetItem"]


def test_a_crashed_invocation_is_taken_over_after_its_lease(
    invoke: Any, dynamodb: Any, settings: Any, clock: Any, processor: Any
) -> None:
    # Given a key left IN_PROGRESS by an invocation that died after its claim (lease 5 s)
    merchant, key, body = _merchant(), unique("k"), visa()
    store = DynamoDBIdempotencyStore(dynamodb_client, settings.idempotency_table)
    now = clock.now_ms()
    crashed = IdempotencyRecord(
        record_id=record_id(merchant, key),
        status=Status.IN_PROGRESS,
        fingerprint=idempotent_request(merchant, key, CreatePaymentRequest.model_validate(body)).fingerprint,
        reference=unique("ref"),
        expires_at=now // 1000 + settings.retention_seconds,
        owner="dead-owner",
        lease_expires_at_ms=now + 5_000,
    )
    store.put_new(crashed, now)
    event = payment_event(key, body, merchant=merchant)
    # When a retry arrives before the lease ends it is told when to come back
    early = invoke(event)
    assert early["statusCode"] == 409
    assert 1 <= int(early["multiValueHeaders"]["Retry-After"][0]) <= 5
    # And after the lease it takes over, reusing the processor reference: one charge, one payment
    clock.advance(5_001)
    late = invoke(event)
    assert late["statusCode"] == 201
    assert list(processor.charges) == [crashed.reference]
    assert len(payments_of(dynamodb.client, settings.payments_table, merchant)) == 1
    assert _item(dynamodb, settings, merchant, key).status is Status.COMPLETED
    assert invoke(event)["body"] == late["body"]


def test_an_expired_key_behaves_as_new(invoke: Any, dynamodb: Any, settings: Any, clock: Any) -> None:
    merchant, key = _merchant(), unique("k")
    event = payment_event(key, visa(), merchant=merchant)
    first = json.loads(invoke(event)["body"])
    clock.advance((settings.retention_seconds + 1) * 1000)  # TTL may not have deleted it yet
    second = invoke(event)
    assert second["statusCode"] == 201 and "Idempotent-Replayed" not in second["multiValueHeaders"]
    assert json.loads(second["body"])["id"] != first["id"]
    # A different body under the expired key is a new request too, not a mismatch.
    clock.advance((settings.retention_seconds + 1) * 1000)
    assert invoke(payment_event(key, visa(77), merchant=merchant))["statusCode"] == 201


def _executor(store: Any, clock: Any) -> IdempotencyEngine:
    return IdempotencyEngine(store, retention_seconds=3600, lease_margin_ms=0, default_lease_ms=2_000, clock=clock)


def test_a_stale_owner_can_neither_complete_nor_release(dynamodb: Any, settings: Any, clock: Any) -> None:
    store = DynamoDBIdempotencyStore(dynamodb_client, settings.idempotency_table)
    request = IdempotentRequest(scope=unique("scope"), key=unique("k"), operation="test.op", payload="{}")
    a_holds, a_resume = threading.Event(), threading.Event()
    a_claim: list[Any] = []
    answers: dict[str, Any] = {}

    def a_operation(claim: Any) -> Completion:
        a_claim.append(claim)
        a_holds.set()
        assert a_resume.wait(10)
        return Completion('{"by":"A"}')

    # A claims and stalls past its lease
    a = threading.Thread(target=lambda: answers.setdefault("A", _executor(store, clock).run(request, a_operation)))
    a.start()
    assert a_holds.wait(5)
    clock.advance(2_001)
    # B takes over and completes
    b = _executor(store, clock).run(request, lambda claim: Completion('{"by":"B"}'))
    assert b.result == '{"by":"B"}' and not b.replayed
    # A resumes: its completion is fenced off and it answers with B's record
    a_resume.set()
    a.join()
    assert answers["A"].result == '{"by":"B"}' and answers["A"].replayed
    # A's release is rejected too, and B's record is intact
    with pytest.raises(RecordConflict):
        store.release(a_claim[0].record_id, a_claim[0].owner)
    with pytest.raises(RecordConflict):
        store.forget(a_claim[0].record_id, a_claim[0].owner)
    record = from_item(
        dynamodb.client.get_item(TableName=settings.idempotency_table, Key={"id": {"S": request.record_id}})["Item"]
    )
    assert record is not None and record.status is Status.COMPLETED and record.result == '{"by":"B"}'


def test_the_processor_reference_survives_takeover_and_release(dynamodb: Any, settings: Any, clock: Any) -> None:
    store = DynamoDBIdempotencyStore(dynamodb_client, settings.idempotency_table)
    request = IdempotentRequest(scope=unique("scope"), key=unique("k"), operation="test.op", payload="{}")
    references: list[str] = []

    class Flaky(Exception):
        pass

    def fail(claim: Any) -> Completion:
        references.append(claim.reference)
        raise Flaky

    executor = _executor(store, clock)
    for _ in range(2):
        with pytest.raises(Exception, match="temporarily unavailable"):
            executor.run(request, fail, retry_on=(Flaky,))
    done = executor.run(request, lambda claim: (references.append(claim.reference), Completion("done"))[1])
    assert done.result == "done"
    assert len(set(references)) == 1 and len(references) == 3


def test_cached_replays_cost_no_round_trip_and_are_identical(
    dynamodb: Any, settings: Any, processor: Any, clock: Any
) -> None:
    from payments_service import bootstrap
    from payments_service.handlers import api

    cached = bootstrap.build(settings.model_copy(update={"replay_cache_size": 64}), processor=processor, clock=clock)
    bootstrap.use(cached)
    try:
        merchant, key = _merchant(), unique("k")
        event = payment_event(key, visa(), merchant=merchant)
        first = api.lambda_handler(event, FakeContext())
        again, calls = _calls(dynamodb, lambda: api.lambda_handler(event, FakeContext()))
        assert calls == [] and again["body"] == first["body"]
        assert again["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
        # Another merchant with the same key is never served from the cache
        other, calls = _calls(
            dynamodb, lambda: api.lambda_handler(payment_event(key, visa(), merchant=_merchant()), FakeContext())
        )
        assert other["statusCode"] == 201 and "Idempotent-Replayed" not in other["multiValueHeaders"]
        # A mismatch is still caught from the cache
        assert api.lambda_handler(payment_event(key, visa(2), merchant=merchant), FakeContext())["statusCode"] == 422
        # Past the record's expiry the cache does not answer: the request is new
        clock.advance((settings.retention_seconds + 1) * 1000)
        renewed, calls = _calls(dynamodb, lambda: api.lambda_handler(event, FakeContext()))
        assert calls == ["PutItem", "TransactWriteItems"] and renewed["body"] != first["body"]
    finally:
        bootstrap.use(None)
