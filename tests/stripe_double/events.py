"""The double's webhook events, as Stripe documents them (https://docs.stripe.com/webhooks): an Event object
per state change, with a snapshot of the object, signed `Stripe-Signature: t=<unix>,v1=<HMAC-SHA256 hex of
"<t>.<payload>" with the endpoint's secret>`. Delivery is at least once and unordered at Stripe, so tests
deliver events themselves (twice, reversed, late) with `signed()`; `deliver_to` posts each new one as it
happens, for a local `make run`."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.request
from typing import Any

WEBHOOK_SECRET = "whsec_local_only"  # the same as env.json's local secret: `make run` verifies the double's events


def signature(payload: bytes, secret: str, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


class EventLog:
    def __init__(self, api_version: str, secret: str = WEBHOOK_SECRET, deliver_to: str | None = None) -> None:
        self.api_version = api_version
        self.secret = secret
        self.deliver_to = deliver_to
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def emit(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "api_version": self.api_version,
            "created": int(time.time()),
            "type": kind,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": copy.deepcopy(obj)},
        }
        with self._lock:
            self._events.append(event)
        if self.deliver_to:
            threading.Thread(target=self._post, args=(event,), daemon=True).start()
        return event

    @property
    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events)

    def signed(self, event: dict[str, Any], *, at: int | None = None, secret: str | None = None) -> tuple[bytes, str]:
        payload = json.dumps(event).encode()
        return payload, signature(payload, secret or self.secret, at)

    def _post(self, event: dict[str, Any]) -> None:
        payload, header = self.signed(event)
        assert self.deliver_to is not None
        request = urllib.request.Request(
            self.deliver_to, payload, {"Content-Type": "application/json", "Stripe-Signature": header}
        )
        for _ in range(3):  # a few tries, as Stripe retries a failed delivery
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:  # 127.0.0.1 only
                    if answer.status < 300:
                        return
            except OSError:
                pass
            time.sleep(1)
