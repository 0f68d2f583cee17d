"""The committed SQS events (events/sqs_*.json, ready for `sam local invoke PaymentQueueFunction -e`)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.support import load_event, payments_of

MERCHANT = "arn:aws:iam::000000000000:user/local-merchant"


def _fresh(name: str) -> dict[str, Any]:
    """The fixture with keys made unique to this run (the session's tables are shared)."""
    event = load_event(name)
    suffix = uuid.uuid4().hex[:8]
    for record in event["Records"]:
        record["messageAttributes"]["Idempotency-Key"]["stringValue"] += f"-{suffix}"
        record["attributes"]["SentTimestamp"] = str(int(time.time() * 1000))  # as `make invoke` sends them
    return event


def test_fixtures_are_what_they_say(consume: Any, dynamodb: Any, settings: Any, dead_letter_queue: Any) -> None:
    before = len(payments_of(dynamodb.client, settings.payments_table, MERCHANT))
    assert consume(*_fresh("sqs_payment_request")["Records"]) == []
    assert consume(*_fresh("sqs_duplicates_in_batch")["Records"]) == []
    assert consume(*_fresh("sqs_poison_message")["Records"]) == []
    # one each for the request and the duplicated pair, one for the good message beside the poison
    assert len(payments_of(dynamodb.client, settings.payments_table, MERCHANT)) == before + 3
    sqs, url = dead_letter_queue
    parked = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert [m["MessageAttributes"]["Dead-Letter-Reason"]["StringValue"] for m in parked] == ["invalid-request"]
