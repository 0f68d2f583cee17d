"""Refunds through the real handler on the embedded DynamoDB: shapes, replays, limits, errors, balances."""

from __future__ import annotations

import json
from typing import Any

import pytest

from payments_service.dal.payments_table import from_item as payment_from_item
from tests.support import (
    get_event,
    get_refund_event,
    list_refunds_event,
    payment_event,
    refund_event,
    unique,
    visa,
)

PROBLEM = "urn:idempotent-payments:problem:"


def _merchant() -> str:
    return f"arn:aws:iam::111111111111:user/{unique('m')}"


def _problem(response: dict[str, Any], status: int, slug: str) -> dict[str, Any]:
    assert response["statusCode"] == status, response
    assert response["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
    body: dict[str, Any] = json.loads(response["body"])
    assert body["type"] == PROBLEM + slug and body["status"] == status, body
    return body


def _paid(invoke: Any, merchant: str, amount: int = 1000, source: str = "tok_visa") -> str:
    created = invoke(payment_event(unique("k"), visa(amount, source=source), merchant=merchant))
    assert created["statusCode"] == 201, created
    return str(json.loads(created["body"])["id"])


def _balance(dynamodb: Any, settings: Any, payment_id: str) -> Any:
    item = dynamodb.client.get_item(
        TableName=settings.payments_table, Key={"payment_id": {"S": payment_id}}, ConsistentRead=True
    )["Item"]
    return item, payment_from_item(item)


def _payment(invoke: Any, payment_id: str, merchant: str) -> dict[str, Any]:
    got = invoke(get_event(payment_id, merchant))
    assert got["statusCode"] == 200, got
    return dict(json.loads(got["body"]))


def test_a_refund_is_201_with_its_json_and_location_and_the_payment_shows_it(
    invoke: Any, clock: Any, dynamodb: Any, settings: Any
) -> None:
    who = _merchant()
    pid = _paid(invoke, who, 1000)
    # When part of it is refunded, through the stage's URL
    event = refund_event(pid, unique("r"), {"amount": 400, "reason": "requested_by_customer"}, merchant=who)
    event["requestContext"]["path"] = "/v1" + event["path"]
    answer = invoke(event)
    # Then 201 with the refund's JSON
    assert answer["statusCode"] == 201, answer
    refund = json.loads(answer["body"])
    assert set(refund) == {"id", "payment_id", "amount", "currency", "status", "reason", "created_at"}
    assert refund["id"].startswith("re_") and len(refund["id"]) == 27
    assert (refund["payment_id"], refund["amount"], refund["currency"], refund["status"], refund["reason"]) == (
        pid,
        400,
        "USD",
        "succeeded",
        "requested_by_customer",
    )
    assert answer["multiValueHeaders"]["Location"] == [f"/v1/payments/{pid}/refunds/{refund['id']}"]
    assert "Idempotent-Replayed" not in answer["multiValueHeaders"]
    # And the payment is partially refunded
    payment = _payment(invoke, pid, who)
    assert (payment["status"], payment["amount_refunded"], payment["amount"]) == ("partially_refunded", 400, 1000)
    # And the refund reads back at its Location, byte for byte
    got = invoke(get_refund_event(pid, refund["id"], who))
    assert got["statusCode"] == 200 and got["body"] == answer["body"]
    # And the balance adds up, nothing pending
    item, stored = _balance(dynamodb, settings, pid)
    assert (stored.amount_refunded, stored.amount_pending, int(item["available"]["N"])) == (400, 0, 600)
    assert stored.reservations == {}


def test_without_an_amount_all_that_remains_is_refunded_and_then_nothing_remains(invoke: Any, clock: Any) -> None:
    who = _merchant()
    pid = _paid(invoke, who, 1000)
    assert invoke(refund_event(pid, unique("r"), {"amount": 250}, merchant=who))["statusCode"] == 201
    clock.advance(5)
    # No body at all is the empty request
    rest = invoke(refund_event(pid, unique("r"), None, merchant=who))
    assert rest["statusCode"] == 201, rest
    assert json.loads(rest["body"])["amount"] == 750
    payment = _payment(invoke, pid, who)
    assert (payment["status"], payment["amount_refunded"]) == ("refunded", 1000)
    # Then even the smallest refund exceeds it, and so does another "all that remains"
    for body in ({"amount": 1}, {}):
        problem = _problem(invoke(refund_event(pid, unique("r"), body, merchant=who)), 409, "refund-exceeds-payment")
        assert problem["remaining_amount"] == 0


def test_a_refund_larger_than_what_remains_is_refused_with_the_remaining_amount_and_reserves_nothing(
    invoke: Any, dynamodb: Any, settings: Any
) -> None:
    who = _merchant()
    pid = _paid(invoke, who, 1000)
    assert invoke(refund_event(pid, unique("r"), {"amount": 300}, merchant=who))["statusCode"] == 201
    key = unique("r")
    problem = _problem(invoke(refund_event(pid, key, {"amount": 701}, merchant=who)), 409, "refund-exceeds-payment")
    assert problem["remaining_amount"] == 700
    assert "700" in problem["detail"]
    _, stored = _balance(dynamodb, settings, pid)
    assert (stored.amount_refunded, stored.amount_pending, stored.reservations) == (300, 0, {})
    # And the key was not used up: the same key and body are evaluated afresh (still too much)...
    _problem(invoke(refund_event(pid, key, {"amount": 701}, merchant=who)), 409, "refund-exceeds-payment")
    # ...and a fitting body under that key is a new request, not a 422
    assert invoke(refund_event(pid, key, {"amount": 700}, merchant=who))["statusCode"] == 201


def test_a_retried_refund_replays_the_same_bytes_and_refunds_once(invoke: Any, processor: Any) -> None:
    who = _merchant()
    pid = _paid(invoke, who, 1000)
    event = refund_event(pid, unique("r"), {"amount": 100}, merchant=who)
    first = invoke(event)
    again = [invoke(event) for _ in range(3)]
    assert first["statusCode"] == 201
    for replay in again:
        assert replay["statusCode"] == 201 and replay["body"] == first["body"]
        assert replay["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
        assert replay["multiValueHeaders"]["Location"] == first["multiValueHeaders"]["Location"]
    assert len(processor.refunds) == 1
    assert _payment(invoke, pid, who)["amount_refunded"] == 100


def test_the_same_key_with_another_body_or_another_payment_is_422(invoke: Any) -> None:
    who = _merchant()
    pid, other = _paid(invoke, who), _paid(invoke, who)
    key = unique("r")
    assert invoke(refund_event(pid, key, {"amount": 100}, merchant=who))["statusCode"] == 201
    _problem(invoke(refund_event(pid, key, {"amount": 101}, merchant=who)), 422, "idempotency-key-reused")
    _problem(invoke(refund_event(other, key, {"amount": 100}, merchant=who)), 422, "idempotency-key-reused")
    # A payment's key reused for a refund is a different request under the merchant's one key space
    payment_key = unique("k")
    assert invoke(payment_event(payment_key, visa(), merchant=who))["statusCode"] == 201
    _problem(invoke(refund_event(pid, payment_key, {"amount": 1}, merchant=who)), 422, "idempotency-key-reused")


def test_unknown_and_foreign_payments_are_404_and_leave_no_key(invoke: Any, dynamodb: Any, settings: Any) -> None:
    owner, stranger = _merchant(), _merchant()
    pid = _paid(invoke, owner)
    for payment_id, who in [
        (pid, stranger),
        ("pay_000000000000000000000000", owner),
        ("not-a-payment-id", owner),
        ("re_000000000000000000000000", owner),
    ]:
        key = unique("r")
        _problem(invoke(refund_event(payment_id, key, {"amount": 1}, merchant=who)), 404, "not-found")
        _problem(invoke(list_refunds_event(payment_id, who)), 404, "not-found")
        from payments_service.idempotency.keys import record_id

        left = dynamodb.client.get_item(
            TableName=settings.idempotency_table, Key={"id": {"S": record_id(who, key)}}, ConsistentRead=True
        )
        assert "Item" not in left
    # And the owner's payment was not touched by the stranger
    assert _payment(invoke, pid, owner)["amount_refunded"] == 0


def test_a_declined_payment_has_no_id_to_refund(invoke: Any) -> None:
    # The decline is a 402 problem naming no payment, and nothing is stored: there is nothing to refund.
    who = _merchant()
    declined = _problem(
        invoke(payment_event(unique("k"), visa(source="tok_chargeDeclined"), merchant=who)), 402, "card-declined"
    )
    assert "id" not in declined and "payment_id" not in declined


def test_a_refund_the_processor_refuses_is_recorded_replayed_and_gives_the_reservation_back(
    invoke: Any, dynamodb: Any, settings: Any, processor: Any
) -> None:
    who = _merchant()
    pid = _paid(invoke, who, 1000, source="tok_refundDeclined")
    event = refund_event(pid, unique("r"), {"amount": 600}, merchant=who)
    first = invoke(event)
    problem = _problem(first, 409, "payment-not-refundable")
    assert problem["refusal_code"] == "charge_not_refundable"
    replay = invoke(event)
    assert replay["statusCode"] == 409 and replay["body"] == first["body"]
    assert replay["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    item, stored = _balance(dynamodb, settings, pid)
    assert (stored.amount_refunded, stored.amount_pending, int(item["available"]["N"])) == (0, 0, 1000)
    assert stored.reservations == {} and processor.refunds == {}
    listed = json.loads(invoke(list_refunds_event(pid, who))["body"])
    assert listed == {"data": [], "has_more": False, "next_cursor": None}


@pytest.mark.parametrize(
    "raw",
    [
        '{"amount": 0}',
        '{"amount": -5}',
        '{"amount": "100"}',
        '{"amount": 100.0}',
        '{"amount": 100000000}',
        '{"amount": 1, "currency": "USD"}',
        '{"reason": "because"}',
        '{"amount": 1, "amount": 2}',
        "[]",
        "null",
        "{",
    ],
)
def test_an_invalid_refund_body_is_400_and_leaves_no_trace(
    invoke: Any, raw: str, dynamodb: Any, settings: Any, processor: Any
) -> None:
    who = _merchant()
    pid = _paid(invoke, who)
    answer = invoke(refund_event(pid, unique("r"), raw_body=raw, merchant=who))
    assert answer["statusCode"] == 400, answer
    assert json.loads(answer["body"])["type"] in (PROBLEM + "invalid-request", PROBLEM + "malformed-body")
    _, stored = _balance(dynamodb, settings, pid)
    assert (stored.amount_refunded, stored.amount_pending) == (0, 0) and processor.refunds == {}


def test_a_refund_without_a_key_is_400(invoke: Any) -> None:
    who = _merchant()
    pid = _paid(invoke, who)
    _problem(invoke(refund_event(pid, None, {"amount": 1}, merchant=who)), 400, "missing-idempotency-key")


def test_a_payment_written_before_refunds_existed_is_refunded_from_its_amount(
    invoke: Any, dynamodb: Any, settings: Any
) -> None:
    # Given a payment item without balance attributes (as stored before this feature)
    who = _merchant()
    pid = _paid(invoke, who, 900)
    dynamodb.client.update_item(
        TableName=settings.payments_table,
        Key={"payment_id": {"S": pid}},
        UpdateExpression="REMOVE refunded, pending, available, reservations",
    )
    assert _payment(invoke, pid, who)["status"] == "succeeded"
    # When refunded twice, the second more than what remains
    assert invoke(refund_event(pid, unique("r"), {"amount": 500}, merchant=who))["statusCode"] == 201
    over = _problem(
        invoke(refund_event(pid, unique("r"), {"amount": 401}, merchant=who)), 409, "refund-exceeds-payment"
    )
    assert over["remaining_amount"] == 400
    assert invoke(refund_event(pid, unique("r"), None, merchant=who))["statusCode"] == 201
    # Then the balance was started by the first refund and adds up
    item, stored = _balance(dynamodb, settings, pid)
    assert (stored.amount_refunded, stored.amount_pending, int(item["available"]["N"])) == (900, 0, 0)


def test_get_refund_of_another_merchant_or_payment_is_404(invoke: Any) -> None:
    who, stranger = _merchant(), _merchant()
    pid, other = _paid(invoke, who), _paid(invoke, who)
    refund = json.loads(invoke(refund_event(pid, unique("r"), {"amount": 1}, merchant=who))["body"])
    assert invoke(get_refund_event(pid, refund["id"], who))["statusCode"] == 200
    _problem(invoke(get_refund_event(pid, refund["id"], stranger)), 404, "not-found")
    _problem(invoke(get_refund_event(other, refund["id"], who)), 404, "not-found")
    _problem(invoke(get_refund_event(pid, "re_nothex", who)), 404, "not-found")


def test_a_declined_attempt_cannot_be_refunded(invoke: Any, dynamodb: Any, settings: Any) -> None:
    from tests.support import payments_of, refund_event

    merchant = f"arn:aws:iam::111111111111:user/{unique('m')}"
    assert invoke(payment_event(unique("k"), visa(source="tok_chargeDeclined"), merchant=merchant))["statusCode"] == 402
    [attempt] = payments_of(dynamodb.client, settings.payments_table, merchant)
    answer = invoke(refund_event(attempt["payment_id"]["S"], unique("r"), {"amount": 100}, merchant=merchant))
    assert answer["statusCode"] == 409, answer
    assert json.loads(answer["body"])["type"] == "urn:idempotent-payments:problem:payment-declined"


def test_refunding_a_declined_attempt_frees_the_key(invoke: Any, dynamodb: Any, settings: Any) -> None:
    from payments_service.idempotency.keys import record_id
    from tests.support import payments_of, refund_event

    merchant = f"arn:aws:iam::111111111111:user/{unique('m')}"
    assert invoke(payment_event(unique("k"), visa(source="tok_chargeDeclined"), merchant=merchant))["statusCode"] == 402
    [attempt] = payments_of(dynamodb.client, settings.payments_table, merchant)
    key = unique("r")
    answer = invoke(refund_event(attempt["payment_id"]["S"], key, {"amount": 100}, merchant=merchant))
    assert answer["statusCode"] == 409
    # A final refusal: nothing reserved, nothing refunded, so the key is forgotten (not released for ever)
    item = dynamodb.client.get_item(
        TableName=settings.idempotency_table, Key={"id": {"S": record_id(merchant, key)}}, ConsistentRead=True
    )
    assert "Item" not in item


def test_a_payment_has_at_most_the_bounded_number_of_refunds_and_the_next_is_a_clear_409(
    invoke: Any, dynamodb: Any, settings: Any
) -> None:
    from payments_service.domain.refunds import MAX_REFUNDS_PER_PAYMENT
    from payments_service.idempotency.keys import record_id
    from tests.support import refund_event, stored_payment

    merchant = f"arn:aws:iam::111111111111:user/{unique('m')}"
    paid = invoke(payment_event(unique("k"), visa(amount=10_000), merchant=merchant))
    pid = json.loads(paid["body"])["id"]
    for _ in range(MAX_REFUNDS_PER_PAYMENT):
        assert invoke(refund_event(pid, unique("r"), {"amount": 1}, merchant=merchant))["statusCode"] == 201
    key = unique("r")
    answer = invoke(refund_event(pid, key, {"amount": 1}, merchant=merchant))
    problem = json.loads(answer["body"])
    assert answer["statusCode"] == 409 and problem["type"].endswith(":too-many-refunds")
    assert problem["max_refunds"] == MAX_REFUNDS_PER_PAYMENT
    _, payment = stored_payment(dynamodb, settings, pid)
    assert payment.amount_refunded == MAX_REFUNDS_PER_PAYMENT and payment.amount_pending == 0
    item = dynamodb.client.get_item(
        TableName=settings.idempotency_table, Key={"id": {"S": record_id(merchant, key)}}, ConsistentRead=True
    )
    assert "Item" not in item  # forgotten: nothing reserved


def test_the_reservation_condition_itself_enforces_the_bound(dynamodb: Any, settings: Any) -> None:
    """Even a writer whose read was stale (it saw room) cannot add the 101st reservation."""
    from payments_service.dal.clients import dynamodb_client
    from payments_service.dal.payments_table import DynamoDBPaymentsTable
    from payments_service.domain.refunds import MAX_REFUNDS_PER_PAYMENT, Reservation, ReservationRefused
    from payments_service.domain.stored_payments import StoredPayment

    table = DynamoDBPaymentsTable(dynamodb_client, settings.payments_table)
    pid = "pay_" + unique("x").encode().hex()[:24].ljust(24, "0")
    payment = StoredPayment(
        id=pid,
        amount=10_000,
        currency="USD",
        created_at="2026-01-01T00:00:00.000Z",
        processor_payment_id="ch_x",
        merchant_id="m",
    )
    from payments_service.dal.payments_table import to_item

    dynamodb.client.put_item(TableName=settings.payments_table, Item=to_item(payment))
    for n in range(MAX_REFUNDS_PER_PAYMENT):
        table.reserve(payment, Reservation(pid, f"ref-{n}", "rid", 1))
    with pytest.raises(ReservationRefused):
        table.reserve(payment, Reservation(pid, "ref-last", "rid", 1))
