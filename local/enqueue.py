"""`make enqueue`: send one payment request to the queue of the local server running on PORT.

The message is what a producer sends in the cloud: the body is POST /payments' JSON, the key and the
merchant are the `Idempotency-Key` and `Merchant-Id` String attributes. The server's log shows the batch.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from typing import Any

from . import server_info
from .events import LOCAL_MERCHANT

DEFAULT_BODY = '{"amount":1000,"currency":"USD","source":"tok_visa"}'  # the banner's curl: same key, one payment


def message_attributes(key: str, merchant: str) -> dict[str, Any]:
    return {
        "Idempotency-Key": {"DataType": "String", "StringValue": key},
        "Merchant-Id": {"DataType": "String", "StringValue": merchant},
    }


def send(endpoint: str, queue_url: str, body: str, key: str, merchant: str) -> str:
    """SendMessage as a producer does; returns the message id."""
    import boto3
    from botocore.config import Config

    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
        config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}),
    )
    answer = sqs.send_message(QueueUrl=queue_url, MessageBody=body, MessageAttributes=message_attributes(key, merchant))
    return str(answer["MessageId"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=3000, help="the API port of the running `make run` (3000)")
    parser.add_argument("--body", default=DEFAULT_BODY, help=f"the message body (default {DEFAULT_BODY})")
    parser.add_argument("--key", default=None, help="Idempotency-Key attribute (default: a new one)")
    parser.add_argument("--merchant", default=LOCAL_MERCHANT, help=f"Merchant-Id attribute ({LOCAL_MERCHANT})")
    parser.add_argument("--count", type=int, default=1, help="send the same message this many times (1)")
    args = parser.parse_args(argv)
    info = server_info.read(args.port)
    if info is None:
        print(
            f"error: no local server with a queue on port {args.port}: start one with `make run PORT={args.port}`",
            file=sys.stderr,
        )
        return 2
    try:
        json.loads(args.body)
    except ValueError:
        print("warning: the body is not JSON; the consumer will park it on the dead-letter queue", file=sys.stderr)
    key = args.key or f"enqueue-{uuid.uuid4().hex[:12]}"
    for _ in range(max(1, args.count)):
        message_id = send(info.endpoint, info.queue_url, args.body, key, args.merchant)
        print(f"sent message {message_id} (Idempotency-Key {key}) to {info.queue_url}")
    print(f"the server's log shows the batch; dead letters: {info.dead_letter_queue_url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
