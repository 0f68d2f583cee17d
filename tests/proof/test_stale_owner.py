"""The stale owner: A claims and stalls past its lease, B takes over; whatever A does next changes nothing.

Driven through the real handler (A and B are two invocations on two threads, A held inside its
charge call), then through the store directly with A's owner token, the way a zombie would write.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from payments_service.dal.business_writes import BusinessWrites
from payments_service.dal.clients import dynamodb_client
from payments_service.dal.idempotency_table import DynamoDBIdempotencyStore
from payments_service.dal.payments_table import DynamoDBPaymentsTable
from payments_service.domain.payments import RecordPayment
from payments_service.domain.processor import ProcessorUnavailable
from payments_service.domain.stored_payments import StoredPayment
from payments_service.idempotency.records import Status
from payments_service.idempotency.store import RecordConflict
from payments_service.processors.sandbox import SandboxProcessor
from tests.proof.exactly_once import assert_exactly_once
from tests.proof.injection import Boundary, GatedProcessor, InjectedCrash, Kind
from tests.proof.oracle import Answer, key_record, merchant
from tests.proof.rig import Rig
from tests.support import payment_event, recorded_body, unique, visa

A_REMAINING_MS = 5_000  # A's lease: what its Lambda context reported, less the margin


class Invocation:
    """An invocation on its own thread, so the test can hold it mid-charge and run another meanwhile."""

    def __init__(self, rig: Rig, event: dict[str, Any], remaining_ms: int) -> None:
        self.answer: Answer | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(rig, event, remaining_ms), daemon=True)
        self._thread.start()

    def _run(self, rig: Rig, event: dict[str, Any], remaining_ms: int) -> None:
        try:
            self.answer = rig.call(event, remaining_ms)
        except BaseException as error:  # surfaced by result()
            self.error = error

    def result(self) -> Answer:
        self._thread.join(30)
        assert not self._thread.is_alive(), "the invocation never finished"
        assert self.error is None, self.error
        assert self.answer is not None
        return self.answer


def _stall_a_past_its_lease(
    make_rig: Callable[..., Rig], gates: int, then_raise: dict[int, Exception] | None = None
) -> tuple[Rig, GatedProcessor, str, str, dict[str, Any], Invocation, str]:
    """A claims and is held inside its charge; the clock then passes A's lease. Returns A's owner token too."""
    gated = GatedProcessor(SandboxProcessor(slow_seconds=0), gates, then_raise)
    rig = make_rig(gated)
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    a = Invocation(rig, event, A_REMAINING_MS)
    assert gated.gates[0].entered.wait(10), "A never reached the processor"
    held = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert held is not None and held.status is Status.IN_PROGRESS and held.owner and held.lease_expires_at_ms
    rig.clock.advance(held.lease_expires_at_ms - rig.clock.now_ms() + 1)
    return rig, gated, who, key, event, a, held.owner


def test_a_stale_owner_resuming_after_the_takeover_completed_answers_with_that_payment_and_writes_nothing(
    make_rig: Callable[..., Rig],
) -> None:
    rig, gated, who, key, event, a, _ = _stall_a_past_its_lease(make_rig, gates=1)
    # When B takes over and completes while A is still held
    b = rig.call(event)
    assert b.status == 201 and not b.replayed
    # And A resumes: its charge returns (same reference, same charge) and it tries to commit
    gated.gates[0].resume.set()
    a_answer = a.result()
    # Then A's commit was refused: A answers with B's payment, or asks to retry, never a payment of its own
    assert (a_answer.status == 201 and a_answer.replayed and a_answer.same_bytes(b)) or a_answer.status == 409
    assert len(rig.ledger.entries()) == 2  # both charged, under one reference
    assert_exactly_once(rig, who, key, event, b)


A_OUTCOMES = [
    pytest.param(None, 409, id="commits"),
    pytest.param(InjectedCrash("A dies after charging"), 500, id="crashes"),
    pytest.param(ProcessorUnavailable("A's charge answer lost"), 503, id="processor-unavailable"),
]


@pytest.mark.parametrize(("failure", "status"), A_OUTCOMES)
def test_a_stale_owner_resuming_while_the_takeover_is_in_flight_can_neither_commit_nor_release(
    make_rig: Callable[..., Rig], failure: Exception | None, status: int
) -> None:
    then_raise = {0: failure} if failure is not None else None
    rig, gated, who, key, event, a, a_owner = _stall_a_past_its_lease(make_rig, gates=2, then_raise=then_raise)
    # When B takes over and is itself held inside its charge
    b = Invocation(rig, event, 20_000)
    assert gated.gates[1].entered.wait(10), "B never reached the processor"
    # And A resumes first, then tries to commit (or, failing, to give the key back)
    gated.gates[0].resume.set()
    a_answer = a.result()
    # Then A's write is refused: the key is still B's, held, and a third retry is told to wait
    assert a_answer.status == status, a_answer
    if status == 409:
        assert a_answer.retry_after >= 1
    record = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert record is not None and record.status is Status.IN_PROGRESS and record.owner not in (None, a_owner)
    assert rig.call(event).status == 409
    # And B completes as if A had never been there
    gated.gates[1].resume.set()
    b_answer = b.result()
    assert b_answer.status == 201 and not b_answer.replayed
    assert_exactly_once(rig, who, key, event, b_answer)


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        pytest.param(InjectedCrash("A dies after charging"), 500, id="crash"),
        pytest.param(ProcessorUnavailable("A's charge answer lost"), 503, id="processor-unavailable"),
    ],
)
def test_a_stale_owner_failing_after_the_takeover_cannot_release_the_key(
    make_rig: Callable[..., Rig], failure: Exception, status: int
) -> None:
    rig, gated, who, key, event, a, _ = _stall_a_past_its_lease(make_rig, gates=1, then_raise={0: failure})
    b = rig.call(event)
    assert b.status == 201 and not b.replayed
    # When A resumes, fails, and so tries to give the key back
    gated.gates[0].resume.set()
    a_answer = a.result()
    # Then A reports its own failure, but the release was refused: B's record and payment stand
    assert a_answer.status == status, a_answer
    record = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert record is not None and record.status is Status.COMPLETED
    assert recorded_body(record) == b.body
    assert_exactly_once(rig, who, key, event, b)


def test_a_stale_owner_token_can_no_longer_complete_release_or_forget(
    make_rig: Callable[..., Rig],
) -> None:
    rig, gated, who, key, event, a, a_owner = _stall_a_past_its_lease(make_rig, gates=1)
    b = rig.call(event)
    assert b.status == 201
    gated.gates[0].resume.set()
    a.result()
    store = DynamoDBIdempotencyStore(
        dynamodb_client,
        rig.settings.idempotency_table,
        BusinessWrites(DynamoDBPaymentsTable(dynamodb_client, rig.settings.payments_table)),
    )
    completed = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert completed is not None
    rid = completed.record_id
    # When a zombie with A's token writes directly
    forged = '{"by":"A"}'
    with pytest.raises(RecordConflict) as refused:
        store.complete(rid, a_owner, forged, [])
    assert refused.value.current is not None and refused.value.current.result == completed.result
    # (with a payment of its own in the same transaction: the payment must not land either)
    forged_payment = StoredPayment(
        id="pay_" + uuid.uuid4().hex[:24],
        merchant_id=who,
        processor_payment_id="ch_forged",
        amount=1000,
        currency="USD",
        created_at="2026-01-01T00:00:00.000Z",
    )
    with pytest.raises(RecordConflict):
        store.complete(rid, a_owner, forged, [RecordPayment(forged_payment)])
    with pytest.raises(RecordConflict):
        store.release(rid, a_owner)
    with pytest.raises(RecordConflict):
        store.forget(rid, a_owner)
    # Then B's record and payment are intact
    assert key_record(rig.db, rig.settings.idempotency_table, who, key) == completed
    assert_exactly_once(rig, who, key, event, b)


def test_a_key_reaching_its_retention_while_a_takeover_holds_it_is_not_claimed_afresh(
    make_rig: Callable[..., Rig],
) -> None:
    gated = GatedProcessor(SandboxProcessor(slow_seconds=0), gates=1)
    # A processor deduplicating for longer than our retention: with Stripe's 24 h (the default) a takeover
    # this late is refused outright (test_stripe_processor_boundary covers that); here retention is the subject.
    rig = make_rig(gated, processor_idempotency_window_seconds=2 * 86_400)
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    # Given a first invocation that died right after its claim, and a retry that comes back just
    # before the key's retention ends (the client's last chance), takes over and is held in its charge
    rig.plan.arm_exception(Boundary.AFTER_CLAIM, Kind.CRASH)
    assert rig.call(event).status == 500
    crashed = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert crashed is not None
    rig.clock.advance(crashed.expires_at * 1000 - rig.clock.now_ms() - 2_000)
    a = Invocation(rig, event, 20_000)
    assert gated.gates[0].entered.wait(10), "the takeover never reached the processor"
    held = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert held is not None and held.status is Status.IN_PROGRESS and held.lease_expires_at_ms is not None
    # When another retry of the same request arrives 3 s later: past retention, within A's lease
    rig.clock.advance(3_000)
    assert rig.clock.now_ms() < held.lease_expires_at_ms
    b = rig.call(event)
    gated.gates[0].resume.set()
    a_answer = a.result()
    # Then the key held by a live lease was not handed out again under a new processor reference:
    # one reference, one charge at the processor, one payment
    assert len(rig.ledger.references()) == 1, (
        "two charges for one request in flight",
        rig.ledger.entries(),
        b,
        a_answer,
    )
    final = b if b.status == 201 else a_answer
    assert_exactly_once(rig, who, key, event, final)
