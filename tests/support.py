"""Helpers shared by the test suites: event factories (API Gateway, Stripe webhooks), fake clock, unique names."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent.parent / "events"
# IDEMPOTENCY_COMPLETION's values: the suites that prove the promise run on each (tests/proof/conftest.py).
COMPLETIONS = ("transaction", "sequential")


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def payment_event(
    key: str | None,
    body: Any = None,
    *,
    merchant: str | None = "arn:aws:iam::111111111111:user/merchant-a",
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A POST /payments event from the committed fixture, with this test's key, body and merchant."""
    event = copy.deepcopy(load_event("create_payment"))
    for table in ("headers", "multiValueHeaders"):
        event[table] = {k: v for k, v in event[table].items() if k.lower() != "idempotency-key"}
    if key is not None:
        event["headers"]["Idempotency-Key"] = key
        event["multiValueHeaders"]["Idempotency-Key"] = [key]
    for name, value in (headers or {}).items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    if raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body)
    event["requestContext"]["identity"]["userArn"] = merchant
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    return event


def get_event(payment_id: str, merchant: str = "arn:aws:iam::111111111111:user/merchant-a") -> dict[str, Any]:
    event = copy.deepcopy(load_event("get_payment"))
    event["path"] = f"/payments/{payment_id}"
    event["pathParameters"] = {"payment_id": payment_id}
    event["requestContext"]["identity"]["userArn"] = merchant
    return event


def visa(amount: int = 1000, **extra: Any) -> dict[str, Any]:
    return {"amount": amount, "currency": "USD", "source": "tok_visa", **extra}


def payments_of(client: Any, table: str, merchant: str) -> list[dict[str, Any]]:
    """Every payment item the merchant has in the payments table."""
    items = client.scan(
        TableName=table,
        FilterExpression="merchant_id = :m",
        ExpressionAttributeValues={":m": {"S": merchant}},
        ConsistentRead=True,
    )["Items"]
    return list(items)


def recorded_body(record: Any) -> str | None:
    """The body a completed key replays, rendered from what it recorded (None if nothing is recorded)."""
    from payments_service.handlers.payment_responses import payment_response
    from payments_service.logic.create_payment import PaymentResult
    from payments_service.models.payments import RecordedPayment

    if record is None or record.result is None:
        return None
    recorded = RecordedPayment.from_record(record.result)
    return str(payment_response(PaymentResult(recorded, replayed=True), base_path="").body)


class FakeClock:
    """A clock tests move by hand (leases, retention)."""

    def __init__(self, start_ms: int) -> None:
        self._now = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            return self._now

    def advance(self, ms: int) -> None:
        with self._lock:
            self._now += ms


class FakeContext:
    function_name = "PaymentsFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:PaymentsFunction"
    aws_request_id = "test"

    def __init__(self, remaining_ms: int = 20_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


MERCHANT_A = "arn:aws:iam::111111111111:user/merchant-a"


def _at(event: dict[str, Any], path: str, parameters: dict[str, str] | None, merchant: str | None) -> dict[str, Any]:
    event["path"] = event["requestContext"]["path"] = path
    event["pathParameters"] = parameters
    event["requestContext"]["identity"]["userArn"] = merchant
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    return event


def _with_query(event: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    event["queryStringParameters"] = dict(query) or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    return event


def refund_event(
    payment_id: str,
    key: str | None,
    body: Any = None,
    *,
    merchant: str | None = MERCHANT_A,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """A POST /payments/{id}/refunds event from the committed fixture, with this test's key, body and merchant."""
    event = copy.deepcopy(load_event("create_refund"))
    for table in ("headers", "multiValueHeaders"):
        event[table] = {k: v for k, v in event[table].items() if k.lower() != "idempotency-key"}
    if key is not None:
        event["headers"]["Idempotency-Key"] = key
        event["multiValueHeaders"]["Idempotency-Key"] = [key]
    event["body"] = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    return _at(event, f"/payments/{payment_id}/refunds", {"payment_id": payment_id}, merchant)


def list_refunds_event(payment_id: str, merchant: str | None = MERCHANT_A, **query: str) -> dict[str, Any]:
    event = _at(
        copy.deepcopy(load_event("list_refunds")),
        f"/payments/{payment_id}/refunds",
        {"payment_id": payment_id},
        merchant,
    )
    return _with_query(event, query)


def get_refund_event(payment_id: str, refund_id: str, merchant: str | None = MERCHANT_A) -> dict[str, Any]:
    path = f"/payments/{payment_id}/refunds/{refund_id}"
    return _at(
        copy.deepcopy(load_event("get_refund")), path, {"payment_id": payment_id, "refund_id": refund_id}, merchant
    )


def list_payments_event(merchant: str | None = MERCHANT_A, **query: str) -> dict[str, Any]:
    return _with_query(_at(copy.deepcopy(load_event("list_payments")), "/payments", None, merchant), query)


def race(invoke: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send every event at once, each from its own thread; the answers in order."""
    start = threading.Barrier(len(events))

    def send(event: dict[str, Any]) -> dict[str, Any]:
        start.wait(10)  # all fire together
        return invoke(event)

    with ThreadPoolExecutor(len(events)) as pool:
        return list(pool.map(send, events))


def stored_payment(dynamodb: Any, settings: Any, pid: str) -> Any:
    """(raw item, parsed payment) of a payment, read consistently."""
    from payments_service.dal.payments_table import from_item as payment_from_item

    item = dynamodb.client.get_item(
        TableName=settings.payments_table, Key={"payment_id": {"S": pid}}, ConsistentRead=True
    )["Item"]
    return item, payment_from_item(item)


# Stripe's webhooks as API Gateway delivers them to POST /webhooks/stripe.
def sign(payload: bytes, secret: str, at: int | None = None) -> str:
    """Stripe's scheme: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>")."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def webhook_event(payload: bytes, signature: str | None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return {
        "resource": "/webhooks/stripe",
        "path": "/webhooks/stripe",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "body": payload.decode(),
        "isBase64Encoded": False,
        "requestContext": {"resourcePath": "/webhooks/stripe", "httpMethod": "POST", "requestId": unique("req")},
    }


def intent_event(event_id: str, kind: str, intent: str, reference: str, status: str) -> bytes:
    obj = {"id": intent, "object": "payment_intent", "status": status, "metadata": {"idempotency_reference": reference}}
    return json.dumps({"id": event_id, "object": "event", "type": kind, "data": {"object": obj}}).encode()
