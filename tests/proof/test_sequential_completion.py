"""What only the completion without a transaction has: its middle (a key decided, its writes not all applied),
finished by whoever meets it, and a business write refused after the decision undone, never half-kept."""

from __future__ import annotations

from typing import Any

import pytest

from payments_service.dal.idempotency_table import DynamoDBIdempotencyStore
from payments_service.dal.sequential_completion import APPLIED_BY
from payments_service.domain.stored_payments import StoredPayment
from payments_service.idempotency.records import IdempotencyRecord, Status
from tests.proof.injection import Boundary, Kind
from tests.proof.oracle import key_record, merchant, payments_of
from tests.proof.rig import Rig
from tests.support import payment_event, unique, visa

pytestmark = pytest.mark.parametrize("completion", ["sequential"], indirect=True)

REMAINING_MS = 20_000


def _calls(rig: Rig, dynamodb: Any, event: dict[str, Any]) -> tuple[Any, list[str]]:
    before = len(dynamodb.app.calls)
    answer = rig.call(event)
    return answer, dynamodb.app.calls[before:]


def test_a_first_payment_costs_four_single_item_writes_and_a_replay_one(rig: Rig, dynamodb: Any) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    created, first = _calls(rig, dynamodb, event)
    # claim, decision, the payment (marked with the key's id), completed: no transaction anywhere
    assert created.status == 201 and first == ["PutItem", "UpdateItem", "PutItem", "UpdateItem"]
    [payment] = payments_of(rig.db, rig.settings.payments_table, who)
    record = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert record is not None and record.status is Status.COMPLETED
    assert payment[APPLIED_BY]["SS"] == [record.record_id]
    replay, again = _calls(rig, dynamodb, event)
    assert replay.replayed and replay.same_bytes(created) and again == ["PutItem"]


def test_a_key_left_decided_is_finished_by_the_reconciler_before_any_retry(rig: Rig) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    # Given the owner dies right after deciding: the outcome is fixed, nothing of it applied yet
    rig.plan.arm_exception(Boundary.MID_COMMIT, Kind.CRASH)
    assert rig.call(event, REMAINING_MS).status == 500
    left = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert left is not None and left.status is Status.COMPLETING
    assert payments_of(rig.db, rig.settings.payments_table, who) == []
    # When the reconciler runs once its lease has ended and the key is old enough
    rig.clock.advance(REMAINING_MS + rig.settings.reconciler_min_age_seconds * 1000 + 1)
    rig.deps.reconcile()
    # Then the payment is recorded and the key completed, with the answer the owner decided
    [payment] = payments_of(rig.db, rig.settings.payments_table, who)
    done = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert done is not None and done.status is Status.COMPLETED and done.result == left.result
    retry = rig.call(event)
    assert retry.status == 201 and retry.replayed and retry.payment_id == payment["payment_id"]["S"]
    assert len(rig.ledger.charge_ids()) == 1


def test_a_refused_write_met_by_a_reader_gives_the_key_back_and_the_retry_answers_the_conflict(rig: Rig) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    rig.plan.arm_exception(Boundary.MID_COMMIT, Kind.CRASH)
    assert rig.call(event, REMAINING_MS).status == 500
    left = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert left is not None and left.status is Status.COMPLETING
    # Given someone else's item squats the payment's id before the decision is applied (only hand-made data can)
    from payments_service.dal.payments_table import to_item
    from payments_service.domain.payments import payment_id_for

    squatter = StoredPayment(
        id=payment_id_for(left.reference),
        merchant_id="someone-else",
        processor_payment_id="ch_squatter",
        amount=1,
        currency="EUR",
        created_at="2026-01-01T00:00:00.000Z",
    )
    rig.db.put_item(TableName=rig.settings.payments_table, Item=to_item(squatter))
    # When the client retries: its read of the key finishes the decision and meets the refusal
    answer = rig.call(event)
    # Then the decision is undone (the key given back, its reference kept, nothing half-applied) and the
    # retry that takes it over meets the refusal itself: the same problem as with a transaction
    assert answer.status == 409, answer
    record = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert record is not None and record.status is Status.RELEASED and record.result is None
    assert record.reference == left.reference
    assert payments_of(rig.db, rig.settings.payments_table, who) == []


def test_an_expired_key_still_deciding_is_finished_before_it_is_claimed_afresh(rig: Rig) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    rig.plan.arm_exception(Boundary.MID_COMMIT, Kind.CRASH)
    assert rig.call(event, REMAINING_MS).status == 500
    # Given the decided key outlives its retention unfinished (no retry, no reconciler run in a whole day)
    rig.clock.advance((rig.settings.retention_seconds + 60) * 1000)
    store = DynamoDBIdempotencyStore(lambda: rig.db, rig.settings.idempotency_table)
    left = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert left is not None and left.status is Status.COMPLETING and left.is_expired(rig.clock.now_ms())
    fresh = IdempotencyRecord(
        record_id=left.record_id,
        status=Status.IN_PROGRESS,
        fingerprint=left.fingerprint,
        reference="another-reference",
        expires_at=rig.clock.now_ms() // 1000 + 60,
    )
    # When a claim comes for it
    from payments_service.idempotency import RecordConflict

    with pytest.raises(RecordConflict) as refused:
        store.put_new(fresh, rig.clock.now_ms())
    # Then it is refused, and the decided payment was recorded on the way: nothing decided is ever lost
    assert refused.value.current is not None and refused.value.current.status is Status.COMPLETED
    assert len(payments_of(rig.db, rig.settings.payments_table, who)) == 1
