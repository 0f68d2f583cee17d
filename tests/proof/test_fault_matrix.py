"""Every boundary of a payment x every way of dying there x retrying before and after the lease.

Boundaries: after the claim, after the processor charged, just before the commit, after the commit
but before the answer. Ways of dying: an exception in-process (the handler survives and answers),
a lost round trip in-process (the SDK raises; the effect is unknown), and a hard stop of a separate
process (`os._exit(137)`: nothing runs after it, like a Lambda timeout). Each case ends with
`assert_exactly_once`: one payment, one charge, one answer for ever, no key left locked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from payments_service.idempotency.records import Status
from tests.proof.crash_launch import run_until_hard_stop
from tests.proof.exactly_once import BOUNDARY_CASES, assert_exactly_once, obeying, retry_until_answered
from tests.proof.injection import Boundary, Kind
from tests.proof.oracle import Answer, key_record, merchant
from tests.proof.rig import Rig
from tests.support import payment_event, unique, visa

ROOT = Path(__file__).resolve().parents[2]
REMAINING_MS = 20_000  # what the Lambda context reports to in-process invocations
SHORT_REMAINING_MS = 6_000  # the hard-stopped invocation: a short lease (yet wall-clock time for its DynamoDB calls)

# How an in-process exception leaves the key. An exception from the operation (the processor) lets the
# executor give the key back; one escaping a store call leaves it to its lease; after the commit it is done.
LEFT_BY_EXCEPTION = {
    Boundary.AFTER_CLAIM: Status.IN_PROGRESS,
    Boundary.AFTER_CHARGE: Status.RELEASED,
    Boundary.BEFORE_COMMIT: Status.IN_PROGRESS,
    Boundary.MID_COMMIT: Status.COMPLETING,  # decided: whoever comes next finishes it
    Boundary.AFTER_A_WRITE: Status.COMPLETING,
    Boundary.AFTER_COMMIT: Status.COMPLETED,
}
# Past the decision the outcome is fixed: a lost answer there is found to be our own, as after the commit.
DECIDED = (Boundary.MID_COMMIT, Boundary.AFTER_A_WRITE, Boundary.AFTER_COMMIT)


def _record(rig: Rig, who: str, key: str) -> Any:
    return key_record(rig.db, rig.settings.idempotency_table, who, key)


def _check_retry_before_lease_end(
    rig: Rig, who: str, key: str, event: dict[str, Any], left: Status, remaining_ms: int
) -> Answer:
    """The retry that arrives while the crashed invocation's lease still runs."""
    early = rig.call(event)
    if left is Status.IN_PROGRESS:
        # Someone may still be charging: wait, and be told for how long.
        assert early.status == 409, early
        assert early.retry_after <= -(-remaining_ms // 1000)  # never longer than the invocation could live
        record = _record(rig, who, key)
        assert record is not None and record.status is Status.IN_PROGRESS  # the 409 changed nothing
    elif left is Status.RELEASED:
        # Given back: the retry takes over at once, under the same processor reference.
        assert early.status == 201 and not early.replayed, early
    else:
        # Committed though its answer was lost: the retry gets that answer.
        assert early.status == 201 and early.replayed, early
    return early


def _poll_until_final(rig: Rig, event: dict[str, Any], early: Answer, remaining_ms: int) -> Answer:
    """After `early`: a client that was answered comes back later; one told to wait polls per Retry-After."""
    if early.status not in (409, 503):
        rig.clock.advance(remaining_ms)
        return rig.call(event)
    rig.clock.advance(obeying(early, 0))
    return retry_until_answered(rig, event)[0]


@pytest.mark.parametrize(("completion", "boundary"), BOUNDARY_CASES, indirect=["completion"])
def test_an_exception_at_a_boundary_then_retries_before_and_after_the_lease_charge_exactly_once(
    rig: Rig, boundary: Boundary
) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    started = rig.clock.now_ms()
    # Given the first invocation raises at the boundary
    rig.plan.arm_exception(boundary, Kind.CRASH)
    first = rig.call(event, REMAINING_MS)
    assert rig.plan.fired == [boundary]
    assert first.status == 500, first
    record = _record(rig, who, key)
    assert record is not None and record.status is LEFT_BY_EXCEPTION[boundary]
    if record.status is Status.IN_PROGRESS:
        # A lease never outlives the invocation that took it.
        assert record.lease_expires_at_ms is not None
        assert started < record.lease_expires_at_ms <= started + REMAINING_MS
    # When a retry comes before the lease ends
    rig.clock.advance(500)
    early = _check_retry_before_lease_end(rig, who, key, event, record.status, REMAINING_MS)
    # And the client, polling as Retry-After says, until it has a final answer
    late = _poll_until_final(rig, event, early, REMAINING_MS)
    assert late.status == 201, late
    if early.status == 201:
        assert late.replayed and late.same_bytes(early)
    else:
        assert not late.replayed  # the takeover did the work
    # Then exactly once
    assert_exactly_once(rig, who, key, event, late)


@pytest.mark.parametrize(("completion", "boundary"), BOUNDARY_CASES, indirect=["completion"])
def test_a_lost_round_trip_at_a_boundary_ends_in_exactly_one_payment_for_a_client_obeying_retry_after(
    rig: Rig, boundary: Boundary
) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    # Given the answer of the store or processor call at this boundary is lost (its effect applied or not)
    rig.plan.arm_exception(boundary, Kind.TRANSIENT)
    first = rig.call(event, REMAINING_MS)
    assert rig.plan.fired == [boundary]
    if boundary in DECIDED:
        # The commit applied (or was decided): the service finds it is its own and answers as if nothing was lost.
        assert first.status == 201 and not first.replayed, first
        final = first
    else:
        # Anything else is transient for the client: 503, retry later with the same key.
        assert first.status == 503, first
        assert first.retry_after >= 1
        rig.clock.advance(obeying(first, 0))
        final, _ = retry_until_answered(rig, event)
    # Then exactly once
    assert_exactly_once(rig, who, key, event, final)


def test_the_retry_after_of_a_lost_claim_answer_is_enough_to_wait(rig: Rig) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    rig.plan.arm_exception(Boundary.AFTER_CLAIM, Kind.TRANSIENT)
    first = rig.call(event, REMAINING_MS)
    assert first.status == 503
    rig.clock.advance(obeying(first, 0))
    assert rig.call(event).status == 201


def _run_crashing_invoker(rig: Rig, event: dict[str, Any], boundary: Boundary, workdir: Path) -> Any:
    return run_until_hard_stop(
        event,
        {
            "PROOF_CRASH_AT": boundary.value,
            "PROOF_CLOCK_MS": str(rig.clock.now_ms()),
            "PROOF_REMAINING_MS": str(SHORT_REMAINING_MS),
            "PROOF_LEDGER": str(rig.ledger.path),
            "PROOF_ANSWER": str(workdir / "answer.json"),
            "IDEMPOTENCY_COMPLETION": rig.settings.idempotency_completion,
        },
    )


@pytest.mark.parametrize(("completion", "boundary"), BOUNDARY_CASES, indirect=["completion"])
def test_a_hard_stop_at_a_boundary_then_retries_before_and_after_the_lease_charge_exactly_once(
    rig: Rig, boundary: Boundary, tmp_path: Path
) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    started = rig.clock.now_ms()
    # Given an invocation in another process is killed at the boundary (its clock is the test's clock)
    _run_crashing_invoker(rig, event, boundary, tmp_path)
    record = _record(rig, who, key)
    assert record is not None
    charged_before_dying = rig.ledger.charge_ids()
    if boundary in DECIDED:
        assert record.status is LEFT_BY_EXCEPTION[boundary]  # nobody finished a decided completion yet
    else:
        # Nobody gave the key back; only the lease frees it, and the lease ends with the invocation.
        assert record.status is Status.IN_PROGRESS and record.lease_expires_at_ms is not None
        assert started < record.lease_expires_at_ms <= started + SHORT_REMAINING_MS
    assert len(charged_before_dying) == (0 if boundary is Boundary.AFTER_CLAIM else 1)
    # When a retry comes before the lease ends
    early = _check_retry_before_lease_end(rig, who, key, event, record.status, SHORT_REMAINING_MS)
    # And the client, polling as Retry-After says, until it has a final answer
    late = _poll_until_final(rig, event, early, SHORT_REMAINING_MS)
    assert late.status == 201, late
    if early.status == 201:
        assert late.replayed and late.same_bytes(early)
    # Then exactly once, and the charge that survived is the dead process's own (the reference was reused)
    assert_exactly_once(rig, who, key, event, late)
    if charged_before_dying:
        assert rig.ledger.charge_ids() == charged_before_dying


def test_a_client_polling_every_retry_after_takes_over_as_soon_as_the_lease_ends(rig: Rig) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    rig.plan.arm_exception(Boundary.AFTER_CLAIM, Kind.CRASH)
    assert rig.call(event, REMAINING_MS).status == 500
    held = _record(rig, who, key)
    assert held is not None and held.lease_expires_at_ms is not None
    rig.clock.advance((held.lease_expires_at_ms - rig.clock.now_ms()) % 1000)  # the lease ends on a whole second
    answer, polls = rig.call(event), 0
    while answer.status == 409:
        polls += 1
        assert polls <= REMAINING_MS // 1000 + 1, "still told to wait after the lease ended"
        rig.clock.advance(answer.retry_after * 1000)
        answer = rig.call(event)
    # The poll hint is short: the takeover comes within one hint of the lease's end, never before it
    assert answer.status == 201 and not answer.replayed
    assert 0 <= rig.clock.now_ms() - held.lease_expires_at_ms < 1000
