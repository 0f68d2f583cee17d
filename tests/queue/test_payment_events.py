"""Payment events: the payments table's stream through EventBridge Pipes, read from template.yaml, and the
pipe's input template applied to the stream record of an item exactly as dal/ writes it."""

from __future__ import annotations

import json
import re
from typing import Any

from local import template
from payments_service.dal.payments_table import to_item
from payments_service.domain.stored_payments import StoredPayment

_PLACEHOLDER = re.compile(r"<\$\.([A-Za-z0-9_.]+)>")


def _pipe() -> dict[str, Any]:
    return template.resources("AWS::Pipes::Pipe")["PaymentEventsPipe"]["Properties"]


def _render(input_template: str, record: dict[str, Any]) -> str:
    """Pipes' substitution of `<$.path>` (string values, inside the template's own quotes)."""

    def value(match: re.Match[str]) -> str:
        node: Any = record
        for part in match.group(1).split("."):
            node = node[part]
        return str(json.dumps(node))[1:-1]

    return _PLACEHOLDER.sub(value, input_template)


def test_the_pipe_reads_new_payment_records_and_puts_them_on_the_bus() -> None:
    pipe = _pipe()
    table = template.resources("AWS::DynamoDB::Table")["PaymentsTable"]["Properties"]
    # Old images too: the status-change pipe compares a record's status before and after
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    refs = {"PaymentsTable.StreamArn": "table-stream", "PaymentsGlobalTable.StreamArn": "replica-stream"}
    assert template.resolve(pipe["Source"], refs) == "table-stream"
    global_tables = {"TableReplication": "MREC", "TableNamePrefix": "pay", "ReplicaRegion": "us-west-2"}
    assert template.resolve(pipe["Source"], refs, global_tables) == "replica-stream"  # this Region's replica
    assert pipe["Target"] == {"Fn::GetAtt": ["PaymentEventsBus", "Arn"]}
    [pattern] = pipe["SourceParameters"]["FilterCriteria"]["Filters"]
    assert json.loads(pattern["Pattern"]) == {"eventName": ["INSERT"]}  # a record is written once: one event
    bus = pipe["TargetParameters"]["EventBridgeEventBusParameters"]
    assert (bus["Source"], bus["DetailType"]) == ("idempotent-payments", "Payment Recorded")


def test_the_event_detail_is_the_payment_with_its_id() -> None:
    payment = StoredPayment(
        id="pay_0123456789abcdef01234567",
        merchant_id="arn:aws:iam::111111111111:user/merchant-a",
        processor_payment_id="ch_x",
        amount=1250,
        currency="EUR",
        description='quoted "text"',
        created_at="2026-12-02T07:00:00.000Z",
    )
    stream_record = {"eventName": "INSERT", "dynamodb": {"NewImage": to_item(payment)}}
    detail = json.loads(_render(_pipe()["TargetParameters"]["InputTemplate"], stream_record))
    assert detail == {
        "id": payment.id,
        "status": "succeeded",
        "amount": "1250",
        "currency": "EUR",
        "merchant_id": payment.merchant_id,
        "created_at": payment.created_at,
    }


def test_a_declined_attempt_is_recorded_becomes_an_event_and_is_not_a_readable_payment(
    invoke: Any, dynamodb: Any, settings: Any
) -> None:
    from tests.support import get_event, payment_event, payments_of, unique, visa

    merchant = f"arn:aws:iam::111111111111:user/{unique('m')}"
    answer = invoke(payment_event(unique("k"), visa(source="tok_insufficientFunds"), merchant=merchant))
    assert answer["statusCode"] == 402
    [record] = payments_of(dynamodb.client, settings.payments_table, merchant)
    assert (record["status"]["S"], record["decline_code"]["S"]) == ("declined", "insufficient_funds")
    assert "processor_payment_id" not in record and "charge_id" not in record  # nothing was charged
    detail = json.loads(_render(_pipe()["TargetParameters"]["InputTemplate"], {"dynamodb": {"NewImage": record}}))
    assert (detail["id"], detail["status"]) == (record["payment_id"]["S"], "declined")
    # The attempt is not a payment the merchant can read
    assert invoke(get_event(record["payment_id"]["S"], merchant=merchant))["statusCode"] == 404


def _matches(pattern: Any, event: Any) -> bool:
    """EventBridge's matching for the patterns used here: nested fields, each a list of allowed values."""
    if isinstance(pattern, list):
        return event in pattern
    return isinstance(event, dict) and all(k in event and _matches(v, event[k]) for k, v in pattern.items())


def _stream_record(old_status: str, new_status: str) -> dict[str, Any]:
    item = {
        "payment_id": {"S": "pay_0123456789abcdef01234567"},
        "amount": {"N": "900"},
        "currency": {"S": "EUR"},
        "merchant_id": {"S": "m"},
        "created_at": {"S": "2026-12-02T07:00:00.000Z"},
    }
    return {
        "eventName": "MODIFY",
        "dynamodb": {
            "OldImage": {**item, "status": {"S": old_status}},
            "NewImage": {**item, "status": {"S": new_status}},
        },
    }


def test_the_status_pipe_emits_a_payment_moving_on_and_never_a_refund_update_of_it() -> None:
    pipe = template.resources("AWS::Pipes::Pipe")["PaymentStatusEventsPipe"]["Properties"]
    [pattern] = [json.loads(f["Pattern"]) for f in pipe["SourceParameters"]["FilterCriteria"]["Filters"]]
    # 3-D Secure finished, failed, abandoned; a failed payment that succeeded on a second try
    for old, new in [
        ("requires_action", "succeeded"),
        ("requires_action", "failed"),
        ("requires_action", "canceled"),
        ("failed", "succeeded"),
    ]:
        assert _matches(pattern, _stream_record(old, new)), (old, new)
    # A refund's settlement rewrites a succeeded payment's balance: no status event
    assert not _matches(pattern, _stream_record("succeeded", "succeeded"))
    assert not _matches(pattern, {"eventName": "INSERT", "dynamodb": _stream_record("x", "succeeded")["dynamodb"]})
    detail = json.loads(
        _render(pipe["TargetParameters"]["InputTemplate"], _stream_record("requires_action", "canceled"))
    )
    assert (detail["id"], detail["status"], detail["previous_status"]) == (
        "pay_0123456789abcdef01234567",
        "canceled",
        "requires_action",
    )
    bus = pipe["TargetParameters"]["EventBridgeEventBusParameters"]
    assert bus["DetailType"] == "Payment Status Changed"
