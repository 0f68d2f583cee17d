"""The engine's reference window: a key given back is only taken over while downstream still deduplicates its
reference (Stripe: 24 h); after that it is refused, never sent again under a reference the processor forgot."""

from __future__ import annotations

import pytest

from payments_service.idempotency import (
    Claim,
    Completion,
    IdempotencyEngine,
    IdempotencyRecord,
    IdempotentRequest,
    ReferenceExpired,
    Status,
    TemporarilyUnavailable,
)
from payments_service.idempotency.memory_store import InMemoryStore
from tests.support import FakeClock

WINDOW_S = 3_600
LEASE_MS = 2_000


class Flaky(Exception):
    pass


def engine(store: InMemoryStore, clock: FakeClock, window: int | None = WINDOW_S) -> IdempotencyEngine:
    return IdempotencyEngine(
        store,
        retention_seconds=2 * WINDOW_S,  # longer than the window: expiry is not what refuses here
        lease_margin_ms=0,
        default_lease_ms=LEASE_MS,
        clock=clock,
        reference_window_seconds=window,
    )


REQUEST = IdempotentRequest(scope="merchant", key="k-1", operation="op", payload='{"a":1}')


def fail(claim: Claim) -> Completion:
    raise Flaky


def released_at(store: InMemoryStore, clock: FakeClock, references: list[str]) -> None:
    """Claim the key (noting the reference) and give it back after a transient failure."""

    def note_and_fail(claim: Claim) -> Completion:
        references.append(claim.reference)
        raise Flaky

    with pytest.raises(TemporarilyUnavailable):
        engine(store, clock).run(REQUEST, note_and_fail, retry_on=(Flaky,))


def test_the_reference_is_stamped_at_the_claim_and_kept_by_takeovers() -> None:
    clock, store, refs = FakeClock(1_000_000), InMemoryStore(), []
    released_at(store, clock, refs)
    minted = store.records[REQUEST.record_id].reference_created_at_ms
    assert minted == 1_000_000
    clock.advance(600_000)
    released_at(store, clock, refs)  # a takeover, failing again
    record = store.records[REQUEST.record_id]
    assert record.reference_created_at_ms == minted and refs[0] == refs[1]


def test_a_released_key_within_the_window_is_taken_over_with_its_reference() -> None:
    clock, store, refs = FakeClock(1_000_000), InMemoryStore(), []
    released_at(store, clock, refs)
    clock.advance(WINDOW_S * 1000 - LEASE_MS)  # the new lease ends exactly when the window does
    seen: list[str] = []

    def succeed(claim: Claim) -> Completion:
        seen.append(claim.reference)
        return Completion("done")

    outcome = engine(store, clock).run(REQUEST, succeed)
    assert outcome.result == "done" and seen == refs


def test_a_released_key_whose_lease_would_end_after_the_window_is_refused_and_left_as_it_was() -> None:
    clock, store, refs = FakeClock(1_000_000), InMemoryStore(), []
    released_at(store, clock, refs)
    before = store.records[REQUEST.record_id]
    clock.advance(WINDOW_S * 1000 - LEASE_MS + 1)
    calls: list[Claim] = []
    with pytest.raises(ReferenceExpired):
        engine(store, clock).run(REQUEST, lambda claim: calls.append(claim) or Completion("never"))
    assert calls == []
    assert store.records[REQUEST.record_id] == before and before.status is Status.RELEASED


def test_a_lapsed_in_progress_key_past_the_window_is_refused_too() -> None:
    clock, store = FakeClock(1_000_000), InMemoryStore()
    store.put_new(_in_progress(clock.now_ms()), clock.now_ms())  # as a crashed invocation leaves it
    clock.advance(WINDOW_S * 1000)
    with pytest.raises(ReferenceExpired):
        engine(store, clock).run(REQUEST, fail)


def test_without_a_window_or_a_stamp_the_takeover_is_not_limited() -> None:
    clock, store, refs = FakeClock(1_000_000), InMemoryStore(), []
    released_at(store, clock, refs)
    clock.advance(WINDOW_S * 1000 + 60_000)
    assert engine(store, clock, window=None).run(REQUEST, lambda c: Completion("ok")).result == "ok"
    # A record written before the stamp existed is taken over as before.
    clock2, store2 = FakeClock(1_000_000), InMemoryStore()
    store2.put_new(_in_progress(clock2.now_ms()).model_copy(update={"reference_created_at_ms": None}), 1_000_000)
    clock2.advance(WINDOW_S * 1000 + 60_000)
    assert engine(store2, clock2).run(REQUEST, lambda c: Completion("ok")).result == "ok"


def _in_progress(now_ms: int) -> IdempotencyRecord:
    return IdempotencyRecord(
        record_id=REQUEST.record_id,
        status=Status.IN_PROGRESS,
        fingerprint=REQUEST.fingerprint,
        reference="ref-crashed",
        reference_created_at_ms=now_ms,
        expires_at=now_ms // 1000 + WINDOW_S,
        owner="dead",
        lease_expires_at_ms=now_ms + LEASE_MS,
    )
