"""DynamoDB failing mid-way (throttling, 5xx past the SDK's retries) on each write of a payment.

Faults are injected by the embedded DynamoDB itself (the request never applies), so the production
client and its retry policy run unchanged. Every case: the client gets 503 with an integer
Retry-After, and retrying after it (the clock moving when a lease must lapse) charges exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from payments_service.idempotency.records import Status
from tests.proof.exactly_once import assert_exactly_once, retry_until_answered
from tests.proof.injection import Boundary, Kind, SdkRetriesAfterLostAnswer, is_decision, is_takeover
from tests.proof.oracle import Answer, key_record, merchant
from tests.proof.rig import Rig
from tests.support import payment_event, unique, visa


@pytest.fixture
def exhaust(rig: Rig) -> int:
    """How many failures in a row reach the service as an error: as many as the production client's attempts.

    (botocore reads `max_attempts` in a Config as retries, so "max_attempts": 3 makes 4 attempts.)
    Built inside a test: the process-wide client must not exist before the session endpoint is set.
    """
    from payments_service.dal.clients import dynamodb_client

    return int(dynamodb_client().meta.config.retries["total_max_attempts"])


# The call that commits a payment with its answer: one transaction, or the decision of a sequential completion.
COMMIT_CALL = {"transaction": "TransactWriteItems", "sequential": "UpdateItem"}

FAULTS = [
    pytest.param(400, "ThrottlingException", id="throttled"),
    pytest.param(500, "InternalServerError", id="server-error"),
]


def _unavailable(answer: Answer) -> int:
    assert answer.status == 503, answer
    assert answer.headers["Content-Type"] == "application/problem+json"
    return answer.retry_after  # asserts a whole number of seconds >= 1


def _record(rig: Rig, who: str, key: str) -> Any:
    return key_record(rig.db, rig.settings.idempotency_table, who, key)


def _held_until_its_lease_ends(rig: Rig, who: str, key: str, started_ms: int, wait_s: int) -> None:
    """The key is still claimed, and Retry-After reaches past its lease rather than saying "1"."""
    record = _record(rig, who, key)
    assert record is not None and record.status is Status.IN_PROGRESS and record.lease_expires_at_ms is not None
    assert started_ms + wait_s * 1000 >= record.lease_expires_at_ms


def _retry_after(rig: Rig, wait_ms: int, who: str, key: str, event: dict[str, Any]) -> None:
    """The client's retry once the wait it was told is over: a first answer (not a replay), one payment."""
    rig.clock.advance(wait_ms)
    final = rig.call(event)
    assert final.status == 201 and not final.replayed
    assert_exactly_once(rig, who, key, event, final)


@pytest.mark.parametrize(("status", "code"), FAULTS)
def test_a_claim_that_cannot_be_written_is_503_and_the_retry_charges_once(
    rig: Rig, faults: Any, exhaust: int, status: int, code: str
) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    # Given the claim's PutItem fails on every attempt
    faults.add("PutItem", status=status, code=code, times=exhaust)
    wait_s = _unavailable(rig.call(event))
    # Then nothing happened anywhere
    assert _record(rig, who, key) is None and rig.ledger.entries() == []
    # And the retry, after Retry-After, is the first and only payment
    _retry_after(rig, wait_s * 1000, who, key, event)


@pytest.mark.parametrize(("status", "code"), FAULTS)
def test_a_commit_that_cannot_be_written_releases_the_key_and_the_retry_reuses_the_charge(
    rig: Rig, faults: Any, exhaust: int, status: int, code: str, completion: str
) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    # Given the processor charged but the payment + response transaction (or decision) fails on every attempt
    faults.add(COMMIT_CALL[completion], status=status, code=code, times=exhaust)
    wait_s = _unavailable(rig.call(event))
    record = _record(rig, who, key)
    assert record is not None and record.status is Status.RELEASED  # given back, reference kept
    assert len(rig.ledger.entries()) == 1
    # When the client retries after Retry-After, it takes over under the same reference
    _retry_after(rig, wait_s * 1000, who, key, event)
    # Then the processor saw the same charge again, not a new one
    assert len(rig.ledger.entries()) == 2


def test_a_release_that_cannot_be_written_holds_the_key_until_its_lease_ends_then_charges_once(
    rig: Rig, faults: Any, exhaust: int
) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    started = rig.clock.now_ms()
    # Given the processor charged but its answer was lost, and the release after it fails on every attempt
    rig.plan.arm_exception(Boundary.AFTER_CHARGE, Kind.TRANSIENT)
    faults.add("UpdateItem", status=500, code="InternalServerError", times=exhaust)
    first = rig.call(event, remaining_ms=20_000)
    wait_s = _unavailable(first)
    # Then the key is held until its lease ends, and Retry-After says so
    _held_until_its_lease_ends(rig, who, key, started, wait_s)
    # A retry before that is told to wait
    rig.clock.advance(1_000)
    assert rig.call(event).status == 409
    # And one after Retry-After takes over and charges the same reference
    _retry_after(rig, wait_s * 1000, who, key, event)


def test_a_commit_and_its_release_both_failing_hold_the_key_until_its_lease_ends_then_charge_once(
    rig: Rig, faults: Any, exhaust: int, completion: str
) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    started = rig.clock.now_ms()
    if completion == "transaction":
        faults.add("TransactWriteItems", status=400, code="ThrottlingException", times=exhaust)
        faults.add("UpdateItem", status=400, code="ThrottlingException", times=exhaust)
    else:  # the decision and the release are both UpdateItems
        faults.add("UpdateItem", status=400, code="ThrottlingException", times=2 * exhaust)
    wait_s = _unavailable(rig.call(event, remaining_ms=20_000))
    _held_until_its_lease_ends(rig, who, key, started, wait_s)
    _retry_after(rig, wait_s * 1000 + 1, who, key, event)


def test_a_takeover_that_cannot_be_written_is_503_and_the_next_retry_charges_once(
    rig: Rig, faults: Any, exhaust: int
) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    # Given a first invocation that charged, failed and gave the key back
    rig.plan.arm_exception(Boundary.AFTER_CHARGE, Kind.CRASH)
    assert rig.call(event).status == 500
    record = _record(rig, who, key)
    assert record is not None and record.status is Status.RELEASED
    # When the retry's takeover (an UpdateItem) fails on every attempt
    faults.add("UpdateItem", status=400, code="ThrottlingException", times=exhaust)
    wait_s = _unavailable(rig.call(event))
    after = _record(rig, who, key)
    assert after is not None and after.status is Status.RELEASED  # still free for the next retry
    # Then the next retry takes over and charges the same reference
    _retry_after(rig, wait_s * 1000, who, key, event)


@pytest.mark.parametrize(
    ("completion", "operation"),
    [
        ("transaction", "PutItem"),
        ("transaction", "TransactWriteItems"),
        ("sequential", "PutItem"),
        ("sequential", "UpdateItem"),
    ],
    indirect=["completion"],
)
def test_failures_the_sdk_retries_away_are_invisible_and_charge_once(
    rig: Rig, faults: Any, exhaust: int, operation: str
) -> None:
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    faults.add(operation, status=400, code="ThrottlingException", times=exhaust - 1)
    first = rig.call(event)
    assert first.status == 201 and not first.replayed
    assert_exactly_once(rig, who, key, event, first)


# A write that applied but whose answer was lost, re-sent by the SDK itself (botocore retries read timeouts).
ECHOES = [
    pytest.param("put_item", None, id="claim"),
    pytest.param("update_item", is_takeover, id="takeover"),
]
# The commit, per completion: the transaction, or the decision that starts a sequential completion.
COMMIT_ECHO = {"transaction": ("transact_write_items", None), "sequential": ("update_item", is_decision)}


def _echoing_rig(make_rig: Callable[..., Rig], operation: str, when: Any) -> tuple[Rig, list[Any]]:
    made: list[Any] = []

    def wrap(client: Any) -> Any:
        made.append(SdkRetriesAfterLostAnswer(client, operation, when or (lambda _: True)))
        return made[-1]

    return make_rig(wrap_client=wrap), made


def _first_answer_after_echo(rig: Rig, echo: Any, operation: str, event: dict[str, Any]) -> Answer:
    if operation == "update_item":
        # A takeover needs a key given back first: an invocation that charged, then failed.
        rig.plan.arm_exception(Boundary.AFTER_CHARGE, Kind.CRASH)
        assert rig.call(event).status == 500
    first = rig.call(event)
    assert echo.echoed == 1, "the lost answer was not exercised"
    return first


@pytest.mark.parametrize("write", ["claim", "takeover", "commit"])
def test_a_write_applied_then_resent_by_the_sdk_still_ends_in_exactly_one_payment(
    make_rig: Callable[..., Rig], write: str, completion: str
) -> None:
    echoes = {"claim": ("put_item", None), "takeover": ("update_item", is_takeover)}
    operation, when = echoes[write] if write in echoes else COMMIT_ECHO[completion]
    rig, made = _echoing_rig(make_rig, operation, when)
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    first = _first_answer_after_echo(rig, made[0], operation, event)
    # Whatever the first answer, a client obeying Retry-After ends with one payment
    final = first if first.status == 201 else retry_until_answered(rig, event)[0]
    assert_exactly_once(rig, who, key, event, final)


@pytest.mark.parametrize(("operation", "when"), ECHOES)
def test_an_invocation_recognises_its_own_claim_when_the_sdk_resends_it(
    make_rig: Callable[..., Rig], operation: str, when: Any
) -> None:
    rig, made = _echoing_rig(make_rig, operation, when)
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    first = _first_answer_after_echo(rig, made[0], operation, event)
    assert first.status == 201 and not first.replayed, first


def test_a_decline_whose_completion_the_sdk_resends_is_answered_as_the_first_answer_not_a_replay(
    make_rig: Callable[..., Rig], completion: str
) -> None:
    # Given the decline's completion (its declined record and the key, one transaction, or the decision that
    # starts a sequential one) applies, loses its answer and is re-sent (moto ignores ClientRequestToken, so
    # the re-send fails against our own commit)
    rig, made = _echoing_rig(make_rig, *COMMIT_ECHO[completion])
    who, key = merchant(), unique("k")
    event = payment_event(key, {"amount": 1000, "currency": "USD", "source": "tok_chargeDeclined"}, merchant=who)
    first = rig.call(event)
    assert made[0].echoed == 1, "the lost answer was not exercised"
    # Then the re-send's failed condition against our own COMPLETED item is recognised by the owner token:
    # the first answer is the decline itself, not a replay of it
    assert first.status == 402 and not first.replayed, first
    # And a real retry is the replay
    again = rig.call(event)
    assert again.status == 402 and again.replayed and again.body == first.body
