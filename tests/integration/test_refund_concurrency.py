"""Refunds racing for one payment's balance on a DynamoDB that serializes requests, as the real one does."""

from __future__ import annotations

import json
from typing import Any

from tests.support import list_refunds_event, payment_event, race, refund_event, stored_payment, unique, visa

# The promise holds whichever way a completion commits (tests/conftest.py).
RUNS_ON_BOTH_COMPLETIONS = True

AMOUNT = 10_000
RACERS = 20


def test_twenty_concurrent_refunds_of_ten_percent_refund_exactly_the_amount(
    invoke: Any, dynamodb: Any, settings: Any, processor: Any
) -> None:
    who = f"arn:aws:iam::111111111111:user/{unique('m')}"
    pid = json.loads(invoke(payment_event(unique("k"), visa(AMOUNT), merchant=who))["body"])["id"]
    events = [refund_event(pid, unique(f"r{i}"), {"amount": AMOUNT // 10}, merchant=who) for i in range(RACERS)]
    # When 20 refunds of 10 % with distinct keys race
    answers = race(invoke, events)
    # Then exactly 10 succeed and 10 are told what remains (nothing), none fails otherwise
    created = [a for a in answers if a["statusCode"] == 201]
    refused = [a for a in answers if a["statusCode"] == 409]
    assert (len(created), len(refused)) == (10, 10), [a["statusCode"] for a in answers]
    for answer in refused:
        problem = json.loads(answer["body"])
        assert problem["type"].endswith("refund-exceeds-payment") and problem["remaining_amount"] == 0
    # And what was refunded is exactly the amount, at the processor as in the table
    refunds = [json.loads(a["body"]) for a in created]
    assert sum(r["amount"] for r in refunds) == AMOUNT
    assert len({r["id"] for r in refunds}) == 10
    assert len(processor.refunds) == 10 and processor.refund_calls == 10
    assert sum(amount for _, _, amount in processor.refunds.values()) == AMOUNT
    item, stored = stored_payment(dynamodb, settings, pid)
    assert (stored.amount_refunded, stored.amount_pending, int(item["available"]["N"])) == (AMOUNT, 0, 0)
    assert stored.reservations == {}
    listed = json.loads(invoke(list_refunds_event(pid, who, limit="100"))["body"])
    assert sorted(r["id"] for r in listed["data"]) == sorted(r["id"] for r in refunds)
    # And duplicates of every request, racing again, replay the same bytes and refund nothing more
    again = race(invoke, events)
    for first, replay in zip(answers, again, strict=True):
        assert (replay["statusCode"], replay["body"]) == (first["statusCode"], first["body"]) or (
            first["statusCode"] == 409 and replay["statusCode"] == 409  # refusals are not recorded: re-evaluated
        )
        if first["statusCode"] == 201:
            assert replay["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    assert len(processor.refunds) == 10 and processor.refund_calls == 10


def test_concurrent_duplicates_of_one_refund_refund_once_and_agree(
    invoke: Any, dynamodb: Any, settings: Any, processor: Any
) -> None:
    who = f"arn:aws:iam::111111111111:user/{unique('m')}"
    pid = json.loads(invoke(payment_event(unique("k"), visa(AMOUNT), merchant=who))["body"])["id"]
    event = refund_event(pid, unique("r"), {"amount": 700}, merchant=who)
    answers = race(invoke, [event] * 16)
    statuses = [a["statusCode"] for a in answers]
    assert set(statuses) <= {201, 409}, statuses
    created = [a for a in answers if a["statusCode"] == 201]
    originals = [a for a in created if "Idempotent-Replayed" not in a["multiValueHeaders"]]
    assert len(originals) == 1 and {a["body"] for a in created} == {originals[0]["body"]}
    for conflict in (a for a in answers if a["statusCode"] == 409):
        assert json.loads(conflict["body"])["type"].endswith("idempotency-key-in-use")
    _, stored = stored_payment(dynamodb, settings, pid)
    assert (stored.amount_refunded, stored.amount_pending) == (700, 0)
    assert len(processor.refunds) == 1


def test_concurrent_refunds_of_all_that_remains_give_it_to_exactly_one(
    invoke: Any, dynamodb: Any, settings: Any, processor: Any
) -> None:
    who = f"arn:aws:iam::111111111111:user/{unique('m')}"
    pid = json.loads(invoke(payment_event(unique("k"), visa(AMOUNT), merchant=who))["body"])["id"]
    assert invoke(refund_event(pid, unique("r"), {"amount": 1234}, merchant=who))["statusCode"] == 201
    answers = race(invoke, [refund_event(pid, unique(f"all{i}"), {}, merchant=who) for i in range(8)])
    created = [json.loads(a["body"]) for a in answers if a["statusCode"] == 201]
    assert [r["amount"] for r in created] == [AMOUNT - 1234], [a["statusCode"] for a in answers]
    for answer in (a for a in answers if a["statusCode"] != 201):
        assert answer["statusCode"] == 409 and json.loads(answer["body"])["remaining_amount"] == 0
    _, stored = stored_payment(dynamodb, settings, pid)
    assert (stored.amount_refunded, stored.amount_pending) == (AMOUNT, 0)
    assert sum(amount for _, _, amount in processor.refunds.values()) == AMOUNT
