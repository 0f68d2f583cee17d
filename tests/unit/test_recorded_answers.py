"""What a key records: the typed fields, then the response body stored once and replayed byte for byte;
keys recorded in the earlier form (the body as a JSON string inside the fields) still replay the same bytes."""

from __future__ import annotations

import json

import pytest

from payments_service.domain.stored_payments import StoredPayment
from payments_service.domain.stored_refunds import StoredRefund
from payments_service.handlers.payment_responses import payment_response
from payments_service.handlers.refund_responses import refund_response
from payments_service.logic.create_payment import PaymentResult
from payments_service.logic.create_refund import RefundResult
from payments_service.models.payments import RecordedPayment
from payments_service.models.refunds import RecordedRefund

PAYMENT_ID = "pay_" + "0" * 24
REFUND_ID = "re_" + "1" * 24


def _payment_body(description: str) -> str:
    return StoredPayment(
        id=PAYMENT_ID,
        merchant_id="m_1",
        amount=1000,
        currency="EUR",
        description=description,
        metadata={"note": 'a "quoted"\nline\u2028'},
        created_at="2026-12-06T00:00:00Z",
        processor_payment_id="pi_1",
    ).public_json()


@pytest.mark.parametrize("description", ["plain", "line one\nline two", 'Zürich € 東京 "q" \\ \t', ""])
def test_the_body_is_stored_once_as_it_was_answered(description: str) -> None:
    body = _payment_body(description)
    record = RecordedPayment(outcome="created", payment_id=PAYMENT_ID, body=body).to_record()

    assert record.endswith("\n" + body)
    assert record.count(body) == 1
    assert json.loads(record.partition("\n")[0]) == {"outcome": "created", "payment_id": PAYMENT_ID}
    read = RecordedPayment.from_record(record)
    assert (read.outcome, read.payment_id, read.body) == ("created", PAYMENT_ID, body)
    response = payment_response(PaymentResult(read, replayed=True), base_path="/v1")
    assert (response.status_code, response.body) == (201, body)
    assert response.headers["Location"] == f"/v1/payments/{PAYMENT_ID}"


def test_a_decline_records_its_fields_only() -> None:
    record = RecordedPayment(outcome="declined", decline_code="insufficient_funds").to_record()

    assert "\n" not in record
    read = RecordedPayment.from_record(record)
    assert (read.outcome, read.decline_code, read.body) == ("declined", "insufficient_funds", None)
    assert payment_response(PaymentResult(read, replayed=False), base_path="").status_code == 402


def test_a_payment_key_recorded_in_the_earlier_form_replays_the_same_bytes() -> None:
    body = _payment_body("before the new form\n")
    # The earlier form, as pydantic dumped it: every field, the body a JSON string.
    earlier = json.dumps(
        {"outcome": "requires_action", "payment_id": PAYMENT_ID, "payment_json": body, "decline_code": None},
        separators=(",", ":"),
        ensure_ascii=False,
    )

    read = RecordedPayment.from_record(earlier)

    assert (read.outcome, read.payment_id, read.body) == ("requires_action", PAYMENT_ID, body)
    response = payment_response(PaymentResult(read, replayed=True), base_path="")
    assert (response.status_code, response.body, response.headers["Idempotent-Replayed"]) == (202, body, "true")


def test_a_refund_round_trips_and_its_earlier_form_still_reads() -> None:
    body = StoredRefund(
        id=REFUND_ID,
        payment_id=PAYMENT_ID,
        amount=300,
        currency="EUR",
        status="pending",
        reason="requested_by_customer",
        created_at="2026-12-06T00:00:00Z",
        merchant_id="m_1",
        processor_refund_id="re_p",
        reference="r",
    ).public_json()
    fields = {"outcome": "created", "payment_id": PAYMENT_ID, "refund_id": REFUND_ID}
    earlier = json.dumps({**fields, "refund_json": body, "refusal_code": None}, separators=(",", ":"))

    for record in (RecordedRefund(**fields, body=body).to_record(), earlier):
        read = RecordedRefund.from_record(record)
        response = refund_response(RefundResult(read, replayed=True), base_path="")
        assert (response.status_code, response.body) == (201, body)

    refused = RecordedRefund.from_record(
        RecordedRefund(outcome="refused", payment_id=PAYMENT_ID, refusal_code="charge_disputed").to_record()
    )
    response = refund_response(RefundResult(refused, replayed=True), base_path="")
    assert response.status_code == 409
    assert json.loads(str(response.body))["refusal_code"] == "charge_disputed"
