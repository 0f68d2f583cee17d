"""`make invoke EVENT=events/x.json`: `sam local invoke -e` without Docker; prints the response JSON.

Like `sam local invoke`: the function's JSON alone on stdout (so `| jq` works), its logs on stderr. An API
Gateway REST proxy event goes to the API's function, an SQS event (`Records` from `aws:sqs`) to the queue's
(`sam local invoke PaymentQueueFunction -e`). Several events run in order, one environment per function,
on one embedded DynamoDB (and SQS, for the dead-letter queue), so create then replay shows the replay.
Unlike `sam local invoke`, a chain carries ids: the fixtures' placeholder payment and refund ids are replaced
by the last ones an earlier event's response created, so `create_payment get_payment create_refund get_refund`
shows each route working on the payment the chain made.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import sys
import time
from pathlib import Path
from typing import Any

from . import template
from .environments import EnvironmentFailed
from .runtime import LOCAL_WEBHOOK_SECRET, LocalRuntime

# The ids events/*.json use for "the payment" and "the refund" (no such records exist on a fresh run).
PLACEHOLDERS = {"pay_": "pay_0123456789abcdef01234567", "re_": "re_0123456789abcdef01234567"}
REQUIRED = {"httpMethod": str, "path": str, "requestContext": dict}
OPTIONAL = {"headers": dict, "multiValueHeaders": dict, "body": str, "pathParameters": dict}


class BadEvent(Exception):
    pass


def _sqs_records(event: dict[str, Any], path: Path) -> bool:
    """True for an SQS event; BadEvent if it has Records that are not SQS messages."""
    records = event.get("Records")
    if records is None:
        return False
    if not isinstance(records, list) or not records:
        raise BadEvent(f"{path}: 'Records' must be a non-empty list of SQS messages")
    for number, record in enumerate(records):
        if not isinstance(record, dict) or record.get("eventSource") != "aws:sqs":
            raise BadEvent(f"{path}: record {number} is not an SQS message (eventSource 'aws:sqs')")
        if not isinstance(record.get("messageId"), str) or not isinstance(record.get("body"), str):
            raise BadEvent(f"{path}: record {number}: 'messageId' and 'body' must be strings")
    return True


def read_event(path: Path) -> tuple[str, dict[str, Any]]:
    """(the function that takes it, the event) for the event in `path`; BadEvent saying in one line why it is
    neither an API Gateway REST proxy event nor an SQS event."""
    try:
        event = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BadEvent(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise BadEvent(f"{path} is not JSON: {error}") from None
    if not isinstance(event, dict):
        raise BadEvent(f"{path}: an event is a JSON object, not {type(event).__name__}")
    if _sqs_records(event, path):
        queue_function = template.queue_function_id()
        if queue_function is None:
            raise BadEvent(f"{path}: an SQS event, but the template has no function with an SQS event")
        # As if just sent: a committed fixture's SentTimestamp would be older than any key's retention, and
        # the consumer rightly never charges such a message (handlers/queue_messages.py).
        sent = str(int(time.time() * 1000))
        for record in event["Records"]:
            record.setdefault("attributes", {})["SentTimestamp"] = sent
        return queue_function, event
    for name, kind in REQUIRED.items():
        if not isinstance(event.get(name), kind):
            raise BadEvent(f"{path}: not an API Gateway REST proxy event: {name!r} missing or not {kind.__name__}")
    for name, kind in OPTIONAL.items():
        if event.get(name) is not None and not isinstance(event[name], kind):
            raise BadEvent(f"{path}: {name!r} must be {kind.__name__} or null")
    return _api_function_for(event), event


def _api_function_for(event: dict[str, Any]) -> str:
    """The function the event's route invokes; an unsigned route (the Stripe webhook) has its own. A signed
    webhook fixture is signed again now with the local secret: a committed signature is always older than
    the 300 s tolerance, and the function rightly refuses such a replay."""
    resource = event.get("resource") or event["path"]
    for route in template.routes():
        if not route.signed and route.path == resource and route.method == event["httpMethod"]:
            headers = event.setdefault("headers", {}) or {}
            if "Stripe-Signature" in headers:
                body = (event.get("body") or "").encode()
                headers["Stripe-Signature"] = _stripe_signature(body, LOCAL_WEBHOOK_SECRET)
                event.get("multiValueHeaders", {}).pop("Stripe-Signature", None)
            return route.function
    return template.api_function_id()


def _stripe_signature(payload: bytes, secret: str) -> str:
    """Stripe's scheme: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>") (the SDK only verifies)."""
    at = int(time.time())
    return f"t={at},v1={hmac.new(secret.encode(), f'{at}.'.encode() + payload, hashlib.sha256).hexdigest()}"


def _created_ids(response: Any) -> dict[str, str]:
    """{placeholder: id} for a payment or refund an API response created (201) or returned."""
    if not isinstance(response, dict) or response.get("statusCode") not in (200, 201):
        return {}
    try:
        body = json.loads(response.get("body") or "")
    except ValueError:
        return {}
    found = {}
    for prefix, placeholder in PLACEHOLDERS.items():
        for field in ("id", "payment_id"):
            value = body.get(field) if isinstance(body, dict) else None
            if isinstance(value, str) and value.startswith(prefix):
                found[placeholder] = value
    return found


def _with_ids(event: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """The event with placeholder ids replaced in its path, path parameters and request context."""
    replaced = dict(event)
    for part in ("path", "pathParameters", "requestContext"):  # never the body: a signature covers it
        if part in event:
            text = json.dumps(event[part])
            for placeholder, value in ids.items():
                text = text.replace(placeholder, value)
            replaced[part] = json.loads(text)
    return replaced


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "events", type=Path, nargs="+", help="API Gateway REST proxy or SQS events (events/*.json), in order"
    )
    args = parser.parse_args(argv)
    try:
        events = [read_event(path) for path in args.events]
    except BadEvent as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = sys.stdout
    failed = False
    with contextlib.redirect_stdout(sys.stderr), LocalRuntime(concurrency=1, queue_concurrency=1) as runtime:
        ids: dict[str, str] = {}
        for function, event in events:
            try:
                invocation = runtime.invoke(_with_ids(event, ids), function=function)
            except EnvironmentFailed as error:
                print(f"error: the function did not answer: {error}", file=sys.stderr)
                return 1
            assert invocation is not None  # one environment, used in turn: never busy
            failed = failed or invocation.error is not None
            result = invocation.response if invocation.error is None else invocation.error
            ids |= _created_ids(result)
            print(json.dumps(result, indent=2), file=out, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
