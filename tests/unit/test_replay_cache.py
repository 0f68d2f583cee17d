from __future__ import annotations

from payments_service.idempotency.cache import ReplayCache
from payments_service.idempotency.records import IdempotencyRecord, Status


def _record(rid: str, expires_at: int) -> IdempotencyRecord:
    return IdempotencyRecord(
        record_id=rid,
        status=Status.COMPLETED,
        fingerprint="fp",
        reference="ref",
        expires_at=expires_at,
        result=f'{{"id":"{rid}"}}',
    )


def test_an_entry_never_outlives_its_record() -> None:
    cache = ReplayCache(4)
    cache.put(_record("a", expires_at=100))
    assert cache.get("a", now_ms=100_000) is not None
    assert cache.get("a", now_ms=101_000) is None
    assert len(cache) == 0


def test_size_is_bounded_least_recently_used_first() -> None:
    cache = ReplayCache(2)
    for rid in ("a", "b"):
        cache.put(_record(rid, expires_at=10**9))
    cache.get("a", now_ms=0)
    cache.put(_record("c", expires_at=10**9))
    assert [cache.get(r, now_ms=0) is not None for r in ("a", "b", "c")] == [True, False, True]


def test_only_completed_responses_are_cached() -> None:
    cache = ReplayCache(2)
    cache.put(_record("a", 10**9).model_copy(update={"result": None, "status": Status.IN_PROGRESS}))
    assert cache.get("a", now_ms=0) is None
