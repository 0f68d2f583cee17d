"""Reading a payment request from an SQS message: the body is POST /payments' JSON, the key and the
merchant travel as message attributes. The producer is trusted to name the merchant (queue policy)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ..domain.errors import Refused
from ..models.payments import CreatePaymentRequest
from .idempotency_key import MissingKey, message_key
from .principal import Unauthenticated
from .transport import MAX_BODY_BYTES, BodyRejected, parse_body

KEY_ATTRIBUTE = "Idempotency-Key"
MERCHANT_ATTRIBUTE = "Merchant-Id"
# When the message was first sent (epoch ms), carried when the consumer parks it: a parked message is
# re-sent to the dead-letter queue, and SQS gives the copy a new SentTimestamp.
FIRST_SENT_ATTRIBUTE = "Original-Sent-Timestamp"
# A message is charged only while its key is certain to be remembered: younger than the retention less this.
KEY_RETENTION_MARGIN_MS = 3_600_000


class MessageOutlivedItsKey(Refused):
    """The message was first sent longer ago than its idempotency key is kept: its key may be gone, so a
    charge could be a second one. Never charged; parked for an operator."""


def first_sent_ms(record: SQSRecord) -> int | None:
    """The oldest send time the message carries: SQS's SentTimestamp, or the one kept when it was parked."""
    times = [
        record.raw_event.get("attributes", {}).get("SentTimestamp"),
        _string_attribute(record, FIRST_SENT_ATTRIBUTE),
    ]
    parsed = [int(t) for t in times if isinstance(t, str) and t.isdigit()]
    return min(parsed) if parsed else None


def refuse_if_outlived(record: SQSRecord, now_ms: int, retention_seconds: int) -> None:
    sent = first_sent_ms(record)
    if sent is not None and now_ms - sent > retention_seconds * 1000 - KEY_RETENTION_MARGIN_MS:
        raise MessageOutlivedItsKey()


@dataclass(frozen=True)
class PaymentMessage:
    merchant: str
    key: str
    request: CreatePaymentRequest


def _string_attribute(record: SQSRecord, name: str) -> str | None:
    attribute = (record.raw_event.get("messageAttributes") or {}).get(name) or {}
    value = attribute.get("stringValue")
    return value if isinstance(value, str) and attribute.get("dataType", "String").startswith("String") else None


def parse_message(record: SQSRecord) -> PaymentMessage:
    """The message's request, or the same errors an HTTP request would get (mapped by handlers/problems.py)."""
    merchant = _string_attribute(record, MERCHANT_ATTRIBUTE)
    if not merchant:
        raise Unauthenticated(f"The message has no {MERCHANT_ATTRIBUTE} attribute")
    key = _string_attribute(record, KEY_ATTRIBUTE)
    if key is None:
        raise MissingKey(f"The message has no {KEY_ATTRIBUTE} attribute")
    body = record.body or ""
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise BodyRejected("payload-too-large", 413, f"The body must not exceed {MAX_BODY_BYTES} bytes")
    return PaymentMessage(merchant, message_key(key), parse_body(CreatePaymentRequest, body))
