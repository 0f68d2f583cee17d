"""The refund guarantee, checked from the outside: never beyond the payment, once per key, nothing left pending."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from payments_service.dal.payments_table import from_item as payment_from_item
from payments_service.dal.refunds_table import from_item as refund_from_item
from payments_service.domain.processor import ProcessorUnavailable
from payments_service.idempotency.records import Status
from tests.proof.injection import Boundary, InjectedCrash, RefundBoundary
from tests.proof.oracle import Answer, key_record
from tests.proof.rig import Rig
from tests.support import get_refund_event, payment_event, visa


def paid(rig: Rig, merchant: str, key: str, amount: int) -> str:
    created = rig.call(payment_event(key, visa(amount), merchant=merchant))
    assert created.status == 201, created
    return created.payment_id


def balance(rig: Rig, payment_id: str) -> tuple[dict[str, Any], Any]:
    item = rig.db.get_item(
        TableName=rig.settings.payments_table, Key={"payment_id": {"S": payment_id}}, ConsistentRead=True
    )["Item"]
    return item, payment_from_item(item)


def refund_items(rig: Rig, payment_id: str) -> list[Any]:
    items = rig.db.query(
        TableName=rig.settings.refunds_table,
        KeyConditionExpression="payment_id = :p",
        ExpressionAttributeValues={":p": {"S": payment_id}},
        ConsistentRead=True,
    )["Items"]
    return [refund_from_item(item) for item in items]


def processor_refunds(rig: Rig, charge_id: str) -> dict[str, int]:
    """reference -> amount of every refund the processor made of this charge (each reference refunds once)."""
    found: dict[str, int] = {}
    for entry in rig.refund_ledger.entries():
        charge, amount, _ = entry["charge"].split(":")
        if charge == charge_id:
            assert found.get(entry["reference"], int(amount)) == int(amount), "one reference, two amounts"
            found[entry["reference"]] = int(amount)
    return found


def assert_balanced(rig: Rig, payment_id: str) -> None:
    """Never beyond the payment; the table, the refund items and the processor agree; nothing pending."""
    item, stored = balance(rig, payment_id)
    refunds = refund_items(rig, payment_id)
    at_processor = processor_refunds(rig, stored.processor_payment_id)
    assert stored.amount_refunded + stored.amount_pending + int(item["available"]["N"]) == stored.amount
    assert stored.amount_refunded <= stored.amount
    assert stored.amount_pending == 0 and stored.reservations == {}, "a reservation left pending"
    assert sum(r.amount for r in refunds) == stored.amount_refunded
    assert {r.reference: r.amount for r in refunds} == at_processor, "a refund at the processor without its record"


def assert_refunded_once(
    rig: Rig, merchant: str, key: str, payment_id: str, event: dict[str, Any], final: Answer
) -> None:
    """One refund for this key, its answer for ever, the key done with, and the balance settled."""
    assert final.status == 201, final
    for _ in range(2):
        again = rig.call(event)
        assert again.replayed and again.same_bytes(final), (again, final)
    refund = json.loads(final.body)
    mine = [r for r in refund_items(rig, payment_id) if r.id == refund["id"]]
    assert len(mine) == 1 and mine[0].amount == refund["amount"]
    key_reference = key_record(rig.db, rig.settings.idempotency_table, merchant, key)
    assert key_reference is not None and mine[0].reference == key_reference.reference  # made under the key's reference
    record = key_record(rig.db, rig.settings.idempotency_table, merchant, key)
    assert record is not None and record.status is Status.COMPLETED and record.lease_expires_at_ms is None
    got = rig.call(get_refund_event(payment_id, refund["id"], merchant))
    assert got.status == 200 and got.body == final.body
    assert_balanced(rig, payment_id)


def failure(boundary: Boundary | RefundBoundary, how: str) -> Callable[[], None]:
    """An in-process crash at `boundary`, or what the caller sees when that round trip loses its answer."""

    def fail() -> None:
        if how == "crash":
            raise InjectedCrash(f"injected crash {boundary}")
        if boundary is RefundBoundary.AFTER_REFUND:
            raise ProcessorUnavailable("injected: refund answer lost")
        if boundary is Boundary.BEFORE_COMMIT:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1")  # never sent
        raise ReadTimeoutError(endpoint_url="http://127.0.0.1")  # applied, answer lost

    return fail


def answered(rig: Rig, event: dict[str, Any], attempts: int = 30) -> Answer:
    """A client that retries 409 key-in-use, 503 and 500 (obeying Retry-After) until it gets a final answer.

    Retry-After on a 409 is a 1 s poll hint: waiting out a dead invocation's 20 s lease takes ~20 polls."""
    for _ in range(attempts):
        answer = rig.call(event)
        waits = answer.status in (503, 500) or (
            answer.status == 409 and json.loads(answer.body)["type"].endswith("idempotency-key-in-use")
        )
        if not waits:
            return answer
        rig.clock.advance(answer.retry_after * 1000 + 1 if "Retry-After" in answer.headers else 21_000)
    raise AssertionError(f"no final answer after {attempts} obedient retries")
