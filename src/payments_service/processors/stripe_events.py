"""Stripe's webhook events behind the EventVerifier port: the signature checked by the SDK, the event read
into the port's terms. Imported only by the webhook function, on its first event."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import stripe

from ..domain.processor import ChargeStatus
from ..domain.processor_events import (
    ChargeEvent,
    InvalidEvent,
    InvalidSignature,
    OtherEvent,
    ProcessorEvent,
    RefundEvent,
)

TOLERANCE_SECONDS = 300  # Stripe's default: an older signature is a replay
REFERENCE = "idempotency_reference"  # the metadata key our adapter sets on every object it creates
_CHARGE_STATUS: dict[str, ChargeStatus] = {
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "failed",
    "payment_intent.canceled": "canceled",
    "payment_intent.requires_action": "requires_action",
    "payment_intent.processing": "processing",
}
_REFUND_TYPES = frozenset({"charge.refund.updated", "refund.created", "refund.updated", "refund.failed"})
_REFUND_STATUSES = frozenset({"pending", "succeeded", "failed", "canceled"})


class StripeEventVerifier:
    def __init__(self, secrets: Callable[[], Sequence[str]], tolerance_s: int = TOLERANCE_SECONDS) -> None:
        """secrets: the endpoint's current signing secrets (two while one is rotated), read per event."""
        self._secrets = secrets
        self._tolerance_s = tolerance_s

    def verify(self, payload: bytes, signature: str | None) -> ProcessorEvent:
        if not signature:
            raise InvalidSignature("no Stripe-Signature header")
        # Any of the secrets may have signed it; a message never names the secret or the header's value.
        for secret in self._secrets():
            try:
                stripe.WebhookSignature.verify_header(payload, signature, secret, self._tolerance_s)
            except stripe.SignatureVerificationError:
                continue
            return _event(payload)
        raise InvalidSignature("no configured secret verifies this signature (or it is too old)")


def _event(payload: bytes) -> ProcessorEvent:
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise InvalidEvent("not JSON") from None
    if not isinstance(document, dict) or document.get("object") != "event":
        raise InvalidEvent("not an event")
    event_id, kind = document.get("id"), document.get("type")
    obj = (document.get("data") or {}).get("object") if isinstance(document.get("data"), dict) else None
    if not isinstance(event_id, str) or not isinstance(kind, str) or not isinstance(obj, dict):
        raise InvalidEvent("an event needs an id, a type and data.object")
    # Optional fields are read with .get: Stripe omits what does not apply (finding 18.7).
    if kind in _CHARGE_STATUS and obj.get("object") == "payment_intent":
        failure = obj.get("last_payment_error") or {}
        decline = failure.get("decline_code") or failure.get("code") if isinstance(failure, dict) else None
        return ChargeEvent(
            event_id,
            str(obj.get("id", "")),
            _reference(obj),
            _CHARGE_STATUS[kind],
            decline,
        )
    if kind in _REFUND_TYPES and obj.get("object") == "refund" and obj.get("status") in _REFUND_STATUSES:
        metadata = _metadata(obj)
        payment_id = metadata.get("payment_id")
        return RefundEvent(
            event_id,
            str(obj.get("id", "")),
            _reference(obj),
            payment_id if isinstance(payment_id, str) else None,
            obj["status"],
            obj.get("failure_reason") if isinstance(obj.get("failure_reason"), str) else None,
        )
    return OtherEvent(event_id, kind)


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _reference(obj: Mapping[str, Any]) -> str | None:
    value = _metadata(obj).get(REFERENCE)
    return value if isinstance(value, str) and value else None
