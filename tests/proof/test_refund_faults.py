"""Every boundary of a refund x every way of dying there: never a double refund, never a reservation left
pending once the client retries with its key.

Boundaries: after the reservation, after the processor refunded, before the settlement commits, after it
committed but before the answer. Ways of dying: an exception in-process, a lost round trip (the effect is
unknown), and a hard stop of a separate process (os._exit, as a Lambda timeout).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from payments_service.idempotency.records import Status
from tests.proof.crash_launch import run_until_hard_stop
from tests.proof.exactly_once import SEQUENTIAL_ONLY, retry_until_answered
from tests.proof.injection import Boundary, RefundBoundary, SdkRetriesAfterLostAnswer, is_reservation
from tests.proof.oracle import key_record, merchant
from tests.proof.refunds_once import assert_balanced, assert_refunded_once, balance, failure, paid, refund_items
from tests.proof.rig import Rig
from tests.support import COMPLETIONS, payment_event, refund_event, unique, visa

ROOT = Path(__file__).resolve().parents[2]
AMOUNT = 5_000
REFUND = 1_200

BOUNDARIES: list[Boundary | RefundBoundary] = [
    RefundBoundary.AFTER_RESERVE,
    RefundBoundary.AFTER_REFUND,
    Boundary.BEFORE_COMMIT,
    Boundary.AFTER_COMMIT,
]
# A sequential completion's middle: decided, then the settlement applied but not yet the refund item.
CASES = [
    *(pytest.param(c, b, id=f"{c}-{b}") for c in COMPLETIONS for b in BOUNDARIES),
    *(pytest.param("sequential", b, id=f"sequential-{b}") for b in SEQUENTIAL_ONLY),
]


# How the first invocation's key is left, by boundary, after an exception / a lost answer.
LEFT = {
    "crash": {
        RefundBoundary.AFTER_RESERVE: Status.RELEASED,  # raised inside the operation: given back
        RefundBoundary.AFTER_REFUND: Status.RELEASED,
        Boundary.BEFORE_COMMIT: Status.IN_PROGRESS,  # escaped the store call: held until its lease ends
        Boundary.MID_COMMIT: Status.COMPLETING,  # decided: whoever comes next finishes it
        Boundary.AFTER_A_WRITE: Status.COMPLETING,
        Boundary.AFTER_COMMIT: Status.COMPLETED,
    },
    "lost": {
        RefundBoundary.AFTER_RESERVE: Status.RELEASED,
        RefundBoundary.AFTER_REFUND: Status.RELEASED,
        Boundary.BEFORE_COMMIT: Status.RELEASED,
        Boundary.MID_COMMIT: Status.COMPLETED,  # the owner finished its own decision on the next call
        Boundary.AFTER_A_WRITE: Status.COMPLETED,
        Boundary.AFTER_COMMIT: Status.COMPLETED,
    },
}
FIRST_STATUS = {
    Status.RELEASED: (500, 503),
    Status.IN_PROGRESS: (500,),
    Status.COMPLETING: (500,),
    Status.COMPLETED: (201, 500),
}


@pytest.mark.parametrize("how", ["crash", "lost"])
@pytest.mark.parametrize(("completion", "boundary"), CASES, indirect=["completion"])
def test_dying_at_a_refund_boundary_then_retrying_refunds_exactly_once(
    rig: Rig, boundary: Boundary | RefundBoundary, how: str
) -> None:
    who = merchant()
    pid = paid(rig, who, unique("k"), AMOUNT)
    key = unique("r")
    event = refund_event(pid, key, {"amount": REFUND}, merchant=who)
    # Given the first invocation dies at the boundary
    rig.plan.arm(boundary, failure(boundary, how))
    first = rig.call(event)
    assert rig.plan.fired == [boundary]
    record = key_record(rig.db, rig.settings.idempotency_table, who, key)
    assert record is not None and record.status is LEFT[how][boundary], (record, first)
    assert first.status in FIRST_STATUS[record.status], first
    # While it is unresolved the balance never exceeds the payment, and the reservation is visible as pending
    _, stored = balance(rig, pid)
    assert stored.amount_refunded + stored.amount_pending <= AMOUNT
    if record.status is Status.COMPLETING and boundary is Boundary.AFTER_A_WRITE:
        assert stored.amount_pending == 0 and stored.amount_refunded == REFUND  # settled; the refund item is next
    elif record.status is not Status.COMPLETED:
        assert stored.amount_pending == REFUND and stored.amount_refunded == 0
        # and a competing refund cannot take what is reserved
        over = rig.call(refund_event(pid, unique("r"), {"amount": AMOUNT - REFUND + 1}, merchant=who))
        assert over.status == 409 and json.loads(over.body)["remaining_amount"] == AMOUNT - REFUND
    # When the client retries, obeying Retry-After
    final = first if first.status == 201 else retry_until_answered(rig, event)[0]
    # Then one refund, at the processor as in the tables, nothing pending
    assert_refunded_once(rig, who, key, pid, event, final)
    assert len(rig.sandbox.refunds) == 1


def test_a_reservation_whose_answer_was_lost_and_resent_by_the_sdk_is_recognised_as_ours(
    make_rig: Callable[..., Rig],
) -> None:
    # botocore re-sends a reservation whose answer was lost: the second fails its condition on our own entry
    sdk: list[SdkRetriesAfterLostAnswer] = []

    def wrap(inner: Any) -> Any:
        sdk.append(SdkRetriesAfterLostAnswer(inner, "update_item", when=is_reservation))
        return sdk[0]

    rig = make_rig(wrap_client=wrap)
    who = merchant()
    pid = paid(rig, who, unique("k"), AMOUNT)
    key = unique("r")
    event = refund_event(pid, key, {"amount": REFUND}, merchant=who)
    answer = rig.call(event)
    assert sdk[0].echoed == 1
    assert answer.status == 201 and not answer.replayed, answer
    assert_refunded_once(rig, who, key, pid, event, answer)


def test_a_reservation_lost_for_all_that_remains_is_recognised_too(make_rig: Callable[..., Rig]) -> None:
    sdk: list[SdkRetriesAfterLostAnswer] = []

    def wrap(inner: Any) -> Any:
        sdk.append(SdkRetriesAfterLostAnswer(inner, "update_item", when=is_reservation))
        return sdk[0]

    rig = make_rig(wrap_client=wrap)
    who = merchant()
    pid = paid(rig, who, unique("k"), AMOUNT)
    key = unique("r")
    event = refund_event(pid, key, {}, merchant=who)
    answer = rig.call(event)
    assert sdk[0].echoed == 1 and answer.status == 201, answer
    assert json.loads(answer.body)["amount"] == AMOUNT
    assert_refunded_once(rig, who, key, pid, event, answer)


def test_a_processor_unavailable_keeps_the_reservation_until_the_retry_resolves_it(rig: Rig) -> None:
    who = merchant()
    pid = paid(rig, who, unique("k"), AMOUNT)
    key = unique("r")
    event = refund_event(pid, key, {}, merchant=who)  # all that remains: decided once, kept by the reservation
    rig.plan.arm(RefundBoundary.AFTER_REFUND, failure(RefundBoundary.AFTER_REFUND, "lost"))
    first = rig.call(event)
    assert first.status == 503 and first.retry_after >= 1
    _, held = balance(rig, pid)
    assert (held.amount_pending, held.amount_refunded, len(held.reservations)) == (AMOUNT, 0, 1)
    final, _ = retry_until_answered(rig, event)
    assert json.loads(final.body)["amount"] == AMOUNT
    assert_refunded_once(rig, who, key, pid, event, final)


def test_a_hard_stop_after_the_processor_refunded_is_resolved_by_the_retry(
    rig: Rig, dynamodb: Any, tmp_path: Path
) -> None:
    # Given an invocation in its own process, killed (os._exit) right after the processor refunded
    from local.runtime import local_environment

    who = merchant()
    pid = paid(rig, who, unique("k"), AMOUNT)
    key = unique("r")
    event = refund_event(pid, key, {"amount": REFUND}, merchant=who)
    names = {"IdempotencyTable": rig.settings.idempotency_table, "PaymentsTable": rig.settings.payments_table}
    names["RefundsTable"] = rig.settings.refunds_table
    names["SandboxChargesTable"] = "test-SandboxChargesTable"  # created with the others (tests/conftest.py)
    env = {
        **local_environment(dynamodb.endpoint, names),
        "PROOF_CRASH_AT": RefundBoundary.AFTER_REFUND.value,
        "PROOF_CLOCK_MS": str(rig.clock.now_ms()),
        # Enough for its DynamoDB calls to fit the time budget (dal/deadline.py): a short lease all the same.
        "PROOF_REMAINING_MS": "5000",
        "PROOF_LEDGER": str(rig.ledger.path),
        "PROOF_REFUND_LEDGER": str(rig.refund_ledger.path),
        "PROOF_ANSWER": str(tmp_path / "answer.json"),
    }
    run_until_hard_stop(event, env, timeout_s=60)
    assert not (tmp_path / "answer.json").exists()
    # The refund happened at the processor but nothing settled: the reservation is pending, the key held
    assert len(rig.refund_ledger.references()) == 1 and refund_items(rig, pid) == []
    _, held = balance(rig, pid)
    assert held.amount_pending == REFUND
    # When the client retries (obeying the 409's Retry-After until the dead lease ends)
    final, seen = retry_until_answered(rig, event)
    assert seen[0].status == 409
    # Then the takeover reused the reference: the processor refunded once, and it settled
    assert_refunded_once(rig, who, key, pid, event, final)
    assert len(rig.refund_ledger.references()) == 1


def test_a_processor_refusal_gives_the_reservation_back_atomically_with_its_answer(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    who = merchant()
    created = rig.call(payment_event(unique("k"), visa(AMOUNT, source="tok_refundDeclined"), merchant=who))
    pid = created.payment_id
    key = unique("r")
    event = refund_event(pid, key, {"amount": REFUND}, merchant=who)
    # Lost answer of the settlement transaction (it applied): the answer is still ours, not a 503
    rig.plan.arm(Boundary.AFTER_COMMIT, failure(Boundary.AFTER_COMMIT, "lost"))
    refused = rig.call(event)
    assert refused.status == 409 and json.loads(refused.body)["type"].endswith("payment-not-refundable"), refused
    again = rig.call(event)
    assert again.replayed and again.same_bytes(refused)
    assert_balanced(rig, pid)
    _, stored = balance(rig, pid)
    assert stored.amount_available == AMOUNT


class HeldReservation:
    """A client whose first refund reservation is held before it is sent: an invocation stalled past its lease."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.entered = threading.Event()
        self.resume = threading.Event()
        self._held = False

    def update_item(self, **kwargs: Any) -> Any:
        if is_reservation(kwargs) and not self._held:
            self._held = True
            self.entered.set()
            assert self.resume.wait(30), "the test never resumed the held reservation"
        return self._inner.update_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_stale_owner_reserving_after_the_takeover_settled_never_reserves_again(
    make_rig: Callable[..., Rig],
) -> None:
    held: list[HeldReservation] = []

    def wrap(inner: Any) -> Any:
        held.append(HeldReservation(inner))
        return held[0]

    rig = make_rig(wrap_client=wrap)
    who = merchant()
    pid = paid(rig, who, unique("k"), AMOUNT)
    key = unique("r")
    event = refund_event(pid, key, {"amount": REFUND}, merchant=who)
    # Given A claimed the key, read the payment, and stalls just before its reservation, past its lease
    a: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: a.setdefault("answer", rig.call(event, 5_000)), daemon=True)
    thread.start()
    assert held[0].entered.wait(10), "A never reached its reservation"
    rig.clock.advance(5_001)
    # When B takes over and refunds, settling under the same reference
    b = rig.call(event)
    assert b.status == 201 and not b.replayed, b
    # And A's reservation is then sent
    held[0].resume.set()
    thread.join(30)
    # Then A reserved nothing (the reference was used), refunded nothing more, and answers with B's refund
    answer = a["answer"]
    assert (answer.status == 201 and answer.replayed and answer.same_bytes(b)) or answer.status == 409, answer
    assert_refunded_once(rig, who, key, pid, event, b)
    assert len(rig.refund_ledger.references()) == 1
