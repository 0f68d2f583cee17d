"""The queue consumer against the embedded moto server (DynamoDB serialized, and SQS for dead letters)."""

from __future__ import annotations

import contextlib
import io
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import FakeContext

QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:payment-requests"


@pytest.fixture
def dead_letter_queue(dynamodb: Any) -> Iterator[tuple[Any, str]]:
    import boto3

    os.environ["AWS_ENDPOINT_URL_SQS"] = dynamodb.endpoint
    sqs = boto3.client("sqs", endpoint_url=dynamodb.endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    yield sqs, url
    sqs.delete_queue(QueueUrl=url)


def message(
    body: str, key: str | None, merchant: str | None, *, message_id: str | None = None, sent_ms: int | None = None
) -> dict[str, Any]:
    """One SQS record as Lambda's event source mapping delivers it."""
    attributes: dict[str, Any] = {}
    if key is not None:
        attributes["Idempotency-Key"] = {"stringValue": key, "dataType": "String", "stringListValues": []}
    if merchant is not None:
        attributes["Merchant-Id"] = {"stringValue": merchant, "dataType": "String", "stringListValues": []}
    message_id = message_id or str(uuid.uuid4())
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(sent_ms if sent_ms is not None else int(time.time() * 1000)),
        },
        "messageAttributes": attributes,
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


@pytest.fixture
def consume(
    settings: Any, processor: Any, clock: Any, dead_letter_queue: tuple[Any, str]
) -> Iterator[Callable[..., list[str]]]:
    """Deliver a batch to the real queue handler; returns the ids SQS must deliver again."""
    from payments_service import bootstrap
    from payments_service.handlers import queue

    _, url = dead_letter_queue
    bootstrap.use(
        bootstrap.build(settings.model_copy(update={"dead_letter_queue_url": url}), processor=processor, clock=clock)
    )

    def deliver(*records: dict[str, Any], remaining_ms: int = 20_000) -> list[str]:
        with contextlib.redirect_stdout(io.StringIO()):
            answer = queue.lambda_handler({"Records": list(records)}, FakeContext(remaining_ms))
        return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]

    yield deliver
