"""IdempotencyEngine.recover on the in-memory store: a recovery takes a key over exactly as a retry would."""

from __future__ import annotations

from typing import Any

import pytest

from payments_service.idempotency import (
    Completion,
    IdempotencyEngine,
    IdempotentRequest,
    Recovery,
    Status,
    TemporarilyUnavailable,
    Verdict,
)
from payments_service.idempotency.memory_store import InMemoryStore
from tests.support import FakeClock


class Lost(Exception):
    """What happened downstream is unknown."""


def _engine() -> tuple[IdempotencyEngine, InMemoryStore, FakeClock]:
    clock, store = FakeClock(1_700_000_000_000), InMemoryStore()
    engine = IdempotencyEngine(store, retention_seconds=3600, lease_margin_ms=0, default_lease_ms=5_000, clock=clock)
    return engine, store, clock


def _lost(engine: IdempotencyEngine) -> str:
    request = IdempotentRequest(scope="merchant", key="k", operation="op", payload='{"a":1}')

    def fail(claim: Any) -> Completion:
        raise Lost()

    with pytest.raises(TemporarilyUnavailable):
        engine.run(request, fail, retry_on=(Lost,))
    return request.record_id


def test_recovery_finishes_a_released_key_under_its_reference_with_what_was_stored_at_claim() -> None:
    engine, store, _ = _engine()
    rid = _lost(engine)
    seen: list[Any] = []

    def finish(record: Any, claim: Any) -> Completion:
        seen.append((record.scope, record.operation, record.payload, claim.reference == record.reference))
        return Completion("recovered")

    assert engine.recover(rid, finish) is Recovery.COMPLETED
    assert seen == [("merchant", "op", '{"a":1}', True)]
    assert store.records[rid].status is Status.COMPLETED and store.records[rid].result == "recovered"
    assert engine.unresolved(0, 10) == []
    assert engine.recover(rid, finish) is Recovery.SKIPPED  # already done


def test_a_key_whose_holder_still_runs_is_skipped() -> None:
    engine, _store, _clock = _engine()
    request = IdempotentRequest(scope="merchant", key="k", operation="op", payload="{}")
    results: list[Recovery] = []

    def holder(claim: Any) -> Completion:
        results.append(engine.recover(request.record_id, lambda r, c: Completion("stolen")))
        return Completion("mine")

    assert engine.run(request, holder).result == "mine"
    assert results == [Recovery.SKIPPED]


def test_not_done_leaves_the_key_released_and_out_of_the_index_unknown_keeps_its_age() -> None:
    engine, store, clock = _engine()
    rid = _lost(engine)
    lost_at = store.unknown_since[rid]
    clock.advance(60_000)
    assert engine.recover(rid, lambda r, c: Verdict.UNKNOWN) is Recovery.STILL_UNKNOWN
    assert store.records[rid].status is Status.RELEASED and store.unknown_since[rid] == lost_at
    # Looked at just now: back in line from now on (not waiting a minute any more), its age unchanged
    assert engine.count_unresolved(0, 10) == 1 and engine.count_unresolved(60_000, 10) == 0
    assert engine.unresolved(0, 10) == [rid] and store.get(rid).unknown_since_ms == lost_at  # type: ignore[union-attr]
    assert engine.recover(rid, lambda r, c: Verdict.NOT_DONE) is Recovery.NOT_DONE
    assert store.records[rid].status is Status.RELEASED and rid not in store.unknown_since


def test_a_failing_finish_gives_the_key_back_still_unknown() -> None:
    engine, store, _clock = _engine()
    rid = _lost(engine)

    def broken(record: Any, claim: Any) -> Completion:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        engine.recover(rid, broken)
    assert store.records[rid].status is Status.RELEASED and rid in store.unknown_since


def _lost_key(engine: IdempotencyEngine, key: str) -> str:
    request = IdempotentRequest(scope="merchant", key=key, operation="op", payload="{}")

    def fail(claim: Any) -> Completion:
        raise Lost()

    with pytest.raises(TemporarilyUnavailable):
        engine.run(request, fail, retry_on=(Lost,))
    return request.record_id


def test_a_key_still_unknown_goes_to_the_back_of_the_line_keeping_its_age() -> None:
    engine, store, clock = _engine()
    oldest = _lost_key(engine, "a")
    clock.advance(1_000)
    younger = _lost_key(engine, "b")
    clock.advance(1_000)
    assert engine.unresolved(0, 1) == [oldest]
    assert engine.recover(oldest, lambda r, c: Verdict.UNKNOWN) is Recovery.STILL_UNKNOWN
    # The younger key, never looked at, now comes first; the oldest keeps its first-unknown time
    assert engine.unresolved(0, 2) == [younger, oldest]
    record = store.get(oldest)
    assert record is not None and record.unknown_since_ms == clock.now_ms() - 2_000 and record.reconcile_attempts == 1


def test_after_max_attempts_a_key_is_parked_out_of_the_line_and_still_recoverable() -> None:
    engine, store, clock = _engine()
    rid = _lost_key(engine, "p")
    for attempt in (1, 2):
        clock.advance(1_000)
        assert engine.recover(rid, lambda r, c: Verdict.UNKNOWN, max_attempts=3) is Recovery.STILL_UNKNOWN
        assert store.get(rid).reconcile_attempts == attempt  # type: ignore[union-attr]
    clock.advance(1_000)
    assert engine.recover(rid, lambda r, c: Verdict.UNKNOWN, max_attempts=3) is Recovery.PARKED
    parked = store.get(rid)
    assert parked is not None and parked.parked and parked.status is Status.RELEASED
    assert engine.unresolved(0, 10) == [] and engine.count_unresolved(0, 10) == 0 and engine.count_parked(10) == 1
    # An operator's reconcile (no cap) still resolves it, and it leaves the parked count
    assert engine.recover(rid, lambda r, c: Completion("done")) is Recovery.COMPLETED
    assert engine.count_parked(10) == 0 and store.records[rid].status is Status.COMPLETED


def test_a_failing_finish_counts_as_an_attempt_and_can_park() -> None:
    engine, store, _clock = _engine()
    rid = _lost_key(engine, "f")

    def broken(record: Any, claim: Any) -> Completion:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        engine.recover(rid, broken, max_attempts=1)
    assert store.get(rid).parked and engine.count_parked(10) == 1  # type: ignore[union-attr]


def test_forget_deletes_the_key_so_a_retry_is_evaluated_afresh() -> None:
    engine, store, _clock = _engine()
    rid = _lost_key(engine, "g")
    assert engine.recover(rid, lambda r, c: Verdict.FORGET) is Recovery.FORGOTTEN
    assert rid not in store.records and engine.unresolved(0, 10) == []
