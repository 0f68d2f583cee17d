"""The idempotency engine over the in-memory store: every path of the key's state machine, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from payments_service.idempotency import (
    Claim,
    Completion,
    IdempotencyEngine,
    IdempotentRequest,
    KeyInUse,
    KeyReused,
    Status,
    StoreUnavailable,
    TemporarilyUnavailable,
    WriteRejected,
)
from payments_service.idempotency.memory_store import InMemoryStore
from tests.support import FakeClock

LEASE_MS = 2_000


class Transient(Exception):
    pass


class Rejected(Exception):
    pass


def _engine(store: Any, clock: FakeClock) -> IdempotencyEngine:
    return IdempotencyEngine(store, retention_seconds=3600, lease_margin_ms=0, default_lease_ms=LEASE_MS, clock=clock)


def _request(body: str = '{"amount":1}', key: str = "k") -> IdempotentRequest:
    return IdempotentRequest(scope="merchant", key=key, operation="test.op", payload=body)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_000_000)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore(accepts=lambda write: write != "refused")


def test_first_run_records_and_a_repeat_replays_without_running(store: InMemoryStore, clock: FakeClock) -> None:
    runs: list[str] = []

    def operation(claim: Claim) -> Completion:
        runs.append(claim.reference)
        return Completion(f"done:{claim.reference}", writes=("payment",))

    first = _engine(store, clock).run(_request(), operation)
    again = _engine(store, clock).run(_request(), operation)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.result == first.result == f"done:{runs[0]}" and len(runs) == 1
    assert store.applied == ["payment"]
    record = store.records[first.record_id]
    assert record.status is Status.COMPLETED and record.operation == "test.op" and record.payload == '{"amount":1}'


def test_another_body_under_a_live_key_is_reused(store: InMemoryStore, clock: FakeClock) -> None:
    _engine(store, clock).run(_request(), lambda claim: Completion("done"))
    with pytest.raises(KeyReused):
        _engine(store, clock).run(_request('{"amount":2}'), lambda claim: Completion("other"))


def test_a_key_in_flight_is_in_use_until_its_lease_ends(store: InMemoryStore, clock: FakeClock) -> None:
    engine = _engine(store, clock)

    def holder(claim: Claim) -> Completion:
        clock.advance(500)
        with pytest.raises(KeyInUse) as busy:
            engine.run(_request(), lambda c: Completion("never"))
        assert busy.value.retry_after_seconds == 1  # a short poll hint, not the 1.5 s of lease left
        return Completion("first")

    assert engine.run(_request(), holder).result == "first"


def test_a_transient_failure_releases_and_the_retry_reuses_the_reference(
    store: InMemoryStore, clock: FakeClock
) -> None:
    references: list[str] = []

    def flaky(claim: Claim) -> Completion:
        references.append(claim.reference)
        raise Transient

    engine = _engine(store, clock)
    with pytest.raises(TemporarilyUnavailable):
        engine.run(_request(), flaky, retry_on=(Transient,))
    released = store.records[_request().record_id]
    assert released.status is Status.RELEASED and released.owner is None
    done = engine.run(_request(), lambda claim: (references.append(claim.reference), Completion("ok"))[1])
    assert done.result == "ok" and len(set(references)) == 1


def test_a_definitive_rejection_forgets_the_key(store: InMemoryStore, clock: FakeClock) -> None:
    def refuse(claim: Claim) -> Completion:
        raise Rejected

    with pytest.raises(Rejected):
        _engine(store, clock).run(_request(), refuse, forget_on=(Rejected,))
    assert store.records == {}
    # the key is free: another body is a new request, not a mismatch
    assert _engine(store, clock).run(_request('{"amount":9}'), lambda c: Completion("new")).result == "new"


def test_an_unexpected_error_releases_and_propagates(store: InMemoryStore, clock: FakeClock) -> None:
    def broken(claim: Claim) -> Completion:
        raise ValueError("bug")

    with pytest.raises(ValueError, match="bug"):
        _engine(store, clock).run(_request(), broken)
    assert store.records[_request().record_id].status is Status.RELEASED


def test_a_dead_holder_is_taken_over_after_its_lease_keeping_the_reference(
    store: InMemoryStore, clock: FakeClock
) -> None:
    class Death(BaseException):  # not an Exception: nothing runs after it, like a killed process
        pass

    references: list[str] = []

    def dies(claim: Claim) -> Completion:
        references.append(claim.reference)
        raise Death

    with pytest.raises(Death):
        _engine(store, clock).run(_request(), dies)
    assert store.records[_request().record_id].status is Status.IN_PROGRESS
    with pytest.raises(KeyInUse):
        _engine(store, clock).run(_request(), lambda c: Completion("too early"))
    clock.advance(LEASE_MS)  # the lease end is inclusive
    done = _engine(store, clock).run(_request(), lambda c: (references.append(c.reference), Completion("taken"))[1])
    assert done.result == "taken" and not done.replayed and len(set(references)) == 1


def test_a_stale_owner_is_fenced_and_answers_with_the_new_owners_result(store: InMemoryStore, clock: FakeClock) -> None:
    engine = _engine(store, clock)

    def stalls_past_its_lease(claim: Claim) -> Completion:
        clock.advance(LEASE_MS + 1)
        assert engine.run(_request(), lambda c: Completion("second"), remaining_ms=LEASE_MS).result == "second"
        return Completion("first", writes=("stale payment",))

    late = engine.run(_request(), stalls_past_its_lease)
    assert (late.result, late.replayed) == ("second", True)
    assert store.applied == []  # the stale completion wrote nothing


@pytest.mark.parametrize(("if_rejected", "left"), [("release", Status.RELEASED), ("forget", None)])
def test_a_rejected_business_write_frees_the_key_and_writes_nothing(
    store: InMemoryStore, clock: FakeClock, if_rejected: Any, left: Status | None
) -> None:
    with pytest.raises(WriteRejected) as rejected:
        _engine(store, clock).run(
            _request(), lambda c: Completion("never recorded", writes=("ok", "refused"), if_rejected=if_rejected)
        )
    assert rejected.value.write == "refused"
    record = store.records.get(_request().record_id)
    assert (record.status if record else None) is left
    assert record is None or (record.result is None and record.owner is None)
    assert store.applied == []


def test_past_retention_a_key_is_new_with_a_new_reference(store: InMemoryStore, clock: FakeClock) -> None:
    first = _engine(store, clock).run(_request(), lambda c: Completion(c.reference))
    clock.advance(3_601_000)
    second = _engine(store, clock).run(_request('{"other":1}'), lambda c: Completion(c.reference))
    assert not second.replayed and second.result != first.result


class LosesAnswers(InMemoryStore):
    """Applies a call, then fails as if its answer were lost on the way back."""

    def __init__(self, lose: str) -> None:
        super().__init__()
        self.lose = lose

    def put_new(self, record: Any, now_ms: int) -> None:
        super().put_new(record, now_ms)
        if self.lose == "put_new":
            self.lose = ""
            raise StoreUnavailable("lost")

    def complete(self, record_id: str, owner: str, result: str, writes: Any) -> None:
        super().complete(record_id, owner, result, writes)
        if self.lose == "complete":
            self.lose = ""
            raise StoreUnavailable("lost")


def test_a_claim_whose_answer_was_lost_is_given_back(clock: FakeClock) -> None:
    store = LosesAnswers("put_new")
    with pytest.raises(TemporarilyUnavailable) as unavailable:
        _engine(store, clock).run(_request(), lambda c: Completion("never"))
    assert unavailable.value.retry_after_seconds == 1
    assert store.records[_request().record_id].status is Status.RELEASED


def test_a_completion_whose_answer_was_lost_is_still_ours(clock: FakeClock) -> None:
    store = LosesAnswers("complete")
    done = _engine(store, clock).run(_request(), lambda c: Completion("committed"))
    assert (done.result, done.replayed) == ("committed", False)
    assert store.records[_request().record_id].status is Status.COMPLETED
