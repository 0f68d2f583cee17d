"""The exactly-once guarantee, checked from the outside once a scenario has played out."""

from __future__ import annotations

from typing import Any

import pytest

from payments_service.idempotency.records import Status
from tests.proof.injection import Boundary
from tests.proof.oracle import Answer, key_record, payments_of
from tests.proof.rig import Rig
from tests.support import COMPLETIONS, get_event, recorded_body

SEQUENTIAL_ONLY = (Boundary.MID_COMMIT, Boundary.AFTER_A_WRITE)
# (completion, boundary) for every boundary each completion passes: only a sequential one has a middle.
BOUNDARY_CASES = [
    pytest.param(completion, boundary, id=f"{completion}-{boundary}")
    for completion in COMPLETIONS
    for boundary in Boundary
    if completion == "sequential" or boundary not in SEQUENTIAL_ONLY
]


def assert_exactly_once(rig: Rig, merchant: str, key: str, event: dict[str, Any], final: Answer) -> None:
    """One payment, one processor charge, one answer for ever, and the key done with."""
    settings = rig.settings
    # The client's final answer is a created payment...
    assert final.status == 201, final
    # ...that every later retry replays byte for byte.
    for _ in range(2):
        again = rig.call(event)
        assert again.replayed and again.same_bytes(final), (again, final)
    # Exactly one payment record under this merchant, and it is the one the client was told about.
    payments = payments_of(rig.db, settings.payments_table, merchant)
    assert [p["payment_id"]["S"] for p in payments] == [final.payment_id]
    # Exactly one distinct charge at the processor (a reference is one charge there), and it is the one recorded.
    assert len(rig.ledger.references()) == 1, rig.ledger.entries()
    assert {p["processor_payment_id"]["S"] for p in payments} == rig.ledger.charge_ids()
    # The key is finished: completed with this very answer, no lease left to wait out.
    record = key_record(rig.db, settings.idempotency_table, merchant, key)
    assert record is not None and record.status is Status.COMPLETED, record
    assert record.lease_expires_at_ms is None and recorded_body(record) == final.body
    # And what is stored is what the client was told.
    stored = rig.call(get_event(final.payment_id, merchant))
    assert stored.status == 200 and stored.body == final.body


def retry_until_answered(rig: Rig, event: dict[str, Any], attempts: int = 25) -> tuple[Answer, list[Answer]]:
    """A client that obeys Retry-After on 409 and 503 (the clock moves by exactly what it was told).

    The 409's Retry-After is a short poll hint: enough attempts to poll through a whole 20 s lease."""
    seen: list[Answer] = []
    for _ in range(attempts):
        answer = rig.call(event)
        seen.append(answer)
        if answer.status not in (409, 503):
            return answer, seen
        rig.clock.advance(obeying(answer, 0))
    raise AssertionError(f"still not answered after {attempts} obedient retries: {seen}")


def obeying(answer: Answer, otherwise_ms: int) -> int:
    """How long a client waits after `answer`: Retry-After plus 1 ms when told to wait (see F3 in test_fault_matrix)."""
    return answer.retry_after * 1000 + 1 if answer.status in (409, 503) else otherwise_ms
