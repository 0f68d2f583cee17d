"""A Stripe test double: an HTTP server on 127.0.0.1 that the real `stripe` SDK talks to (STRIPE_API_BASE).

It implements what issues 9 and 12 rely on, with the semantics Stripe documents:
- POST /v1/payment_intents with confirm=true: the test payment method decides the outcome.
- POST /v1/refunds with payment_intent (and amount, else all that remains): refunds a succeeded
  PaymentIntent, never beyond what remains unrefunded on it (400 `amount_too_large`; nothing left:
  `charge_already_refunded`); an unknown PaymentIntent is a 400 `resource_missing`, one that has not
  succeeded a 400 `payment_intent_unexpected_state`.
- Idempotency, the same for both endpoints: a result is saved per (API key, Idempotency-Key) once the
  endpoint has started executing, declines, refusals of the refund and 5xx included, and replayed with
  `Idempotent-Replayed: true`; the same key with other parameters (or on the other endpoint) is a 400
  `idempotency_error`; a request arriving while the first one with its key runs gets a 409. Parameter
  validation failures, 401/403 and 429 are not saved (the endpoint never started), so they can be
  retried with the same key.
- GET /v1/payment_intents/search for the one query the adapter sends,
  `metadata['idempotency_reference']:'<value>'` (any other query is a 400), answered as a
  search_result list. Eventually consistent as Stripe's is: a PaymentIntent becomes searchable only
  `indexing_delay_seconds` after its creation (0 unless a test sets it).
- Faults armed by a test, per endpoint: the answer lost after the object was created, a 5xx (saved
  under the key, with or without a PaymentIntent or Refund behind it), a slow answer, a 429, an
  idempotency_error. Search meets the 5xx, slow and 429 faults (nothing is saved: it is a GET).

- GET /v1/payment_intents, listed newest first with `created[gte|lte]`, `limit`, `starting_after`:
  read-after-write, as Stripe's lists are (search is not). GET /v1/payment_intents/{id}, POST
  /v1/payment_intents/{id}/cancel (only while no money moved: else 400 payment_intent_unexpected_state).
- 3-D Secure: pm_card_authenticationRequired leaves the PaymentIntent `requires_action` with a
  `next_action` and its `client_secret`; with `off_session=true` it is instead a 402 card_error
  `authentication_required` and the PaymentIntent is left `requires_payment_method`. What the customer
  then does in the browser, the double's `authenticate(id, succeed)` plays (or its POST
  /v1/test_helpers/payment_intents/{id}/authenticate?succeed=true|false, for `make run`).
- `customer`: a known Customer (`add_customer()`; `cus_local` always exists) with one of its saved
  PaymentMethods or a test method; an unknown one is a 400 resource_missing.
- Refunds with Stripe's later changes: on pm_card_pendingRefund the refund starts `pending`, on
  pm_card_refundFail `succeeded`; `settle_refunds()` (or POST /v1/test_helpers/refunds/settle) then
  makes the first `succeeded` and the second `failed` (failure_reason `expired_or_canceled_card`), the
  amount becoming refundable again. GET /v1/refunds (filtered by `payment_intent`, paged as above),
  GET /v1/refunds/{id}.
- Events for each change (payment_intent.*, refund.created/updated/failed, charge.refund.updated),
  signed as Stripe signs them (events.py); pinned to the API version the client sends.
- Currencies and amounts in Stripe's units, with Stripe's special cases refused (currencies.py).

Not a Stripe emulator: no other endpoint. Stripe's own stripe-mock does not keep state or idempotency,
which is why this double exists.
"""

from __future__ import annotations

import enum
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .currencies import CURRENCIES, refusal
from .events import WEBHOOK_SECRET, EventLog

TEST_KEY = "sk_test_double"
RESTRICTED_KEY = "sk_test_double_restricted"  # authenticates, but may not create PaymentIntents (403)
LOCAL_CUSTOMER = "cus_local"  # always there: `make run` can charge a saved card without setting one up
MIN_AMOUNT = 50  # Stripe's minimum charge is about 0.50 in most currencies

# Stripe's test payment methods: (status of the PaymentIntent, code, decline_code). A code means a card error.
METHODS: dict[str, tuple[str, str | None, str | None]] = {
    "pm_card_visa": ("succeeded", None, None),
    "pm_card_mastercard": ("succeeded", None, None),
    "pm_card_amex": ("succeeded", None, None),
    "pm_card_chargeDeclined": ("requires_payment_method", "card_declined", "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": ("requires_payment_method", "card_declined", "insufficient_funds"),
    "pm_card_chargeDeclinedProcessingError": ("requires_payment_method", "processing_error", None),
    "pm_card_authenticationRequired": ("requires_action", None, None),
    "pm_card_pendingRefund": ("succeeded", None, None),  # its refunds start pending, then succeed
    "pm_card_refundFail": ("succeeded", None, None),  # its refunds start succeeded, then fail
    "pm_card_slow": ("succeeded", None, None),  # the double's own: processing for `slow_seconds`, then succeeds
}
CANCELABLE = frozenset({"requires_payment_method", "requires_capture", "requires_confirmation", "requires_action"})
LIST_PARAMS = frozenset({"limit", "starting_after", "ending_before", "created[gte]", "created[lte]"})
LIST_PARAMS |= {"created[gt]", "created[lt]", "payment_intent", "customer"}


class Endpoint(enum.StrEnum):
    PAYMENT_INTENTS = "/v1/payment_intents"
    REFUNDS = "/v1/refunds"
    SEARCH = "/v1/payment_intents/search"  # GET
    LIST_INTENTS = "GET /v1/payment_intents"
    LIST_REFUNDS = "GET /v1/refunds"


CREATIONS = frozenset({Endpoint.PAYMENT_INTENTS, Endpoint.REFUNDS})  # the POST endpoints
SEARCH_PARAMS = frozenset({"query", "limit", "page"})
# Hand-written: no library parses Stripe's search query language, and the double accepts one clause only.
SEARCH_QUERY = re.compile(
    r"""\s*metadata\[(?P<q1>['"])idempotency_reference(?P=q1)\]:(?P<q2>['"])(?P<value>[^'"\\]*)(?P=q2)\s*"""
)


class Fault(enum.StrEnum):
    LOSE_ANSWER = "lose_answer"  # processed (and saved) normally, then the connection drops unanswered
    SERVER_ERROR = "server_error"  # the execution fails with a 500, saved under the key
    SLOW = "slow"  # the execution takes `seconds` before anything else happens
    RATE_LIMIT = "rate_limit"  # 429 before the endpoint runs (not saved)
    IDEMPOTENCY_ERROR = "idempotency_error"  # answered as if the key had been used with other parameters


@dataclass(frozen=True)
class ArmedFault:
    fault: Fault
    endpoint: Endpoint
    seconds: float = 0.0
    create: bool = False  # SERVER_ERROR: the PaymentIntent or Refund was created before the failure


@dataclass(frozen=True)
class SeenRequest:
    """One POST to an endpoint as the double received and answered it."""

    idempotency_key: str | None
    params: dict[str, str]
    status: int
    replayed: bool
    answered: bool  # False when the answer was deliberately lost


@dataclass
class _Saved:
    endpoint: Endpoint
    params: dict[str, str]
    status: int
    body: bytes


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunded: dict[str, int] = field(default_factory=dict)  # per PaymentIntent id
    searchable_at: dict[str, float] = field(default_factory=dict)  # per PaymentIntent id, time.monotonic()
    # Keys are per account, not per endpoint, as at Stripe.
    saved: dict[tuple[str, str], _Saved] = field(default_factory=dict)
    in_flight: set[tuple[str, str]] = field(default_factory=set)
    seen: dict[Endpoint, list[SeenRequest]] = field(default_factory=lambda: {e: [] for e in Endpoint})
    customers: dict[str, set[str]] = field(default_factory=lambda: {LOCAL_CUSTOMER: set()})  # saved PaymentMethods
    versions: set[str | None] = field(default_factory=set)  # every Stripe-Version a request was sent with
    faults: list[tuple[ArmedFault, Callable[[dict[str, str]], bool]]] = field(default_factory=list)


def _error(status: int, kind: str, message: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": kind, "message": message, **extra}}


class StripeDouble:
    """Start with `with StripeDouble() as double:` (or start()/stop()); point the SDK at `double.url`."""

    def __init__(
        self,
        port: int = 0,
        slow_seconds: float = 3.0,
        indexing_delay_seconds: float = 0.0,
        *,
        api_version: str = "2026-10-28.endive",
        webhook_secret: str = WEBHOOK_SECRET,
        deliver_to: str | None = None,
    ) -> None:
        """deliver_to: a webhook URL each event is posted to as it happens (tests deliver by hand instead)."""
        self.slow_seconds = slow_seconds
        self.events = EventLog(api_version, webhook_secret, deliver_to)
        # How long after its creation a PaymentIntent stays out of search results; a test may change it.
        self.indexing_delay_seconds = indexing_delay_seconds
        self._state = _State()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> StripeDouble:
        self._thread = threading.Thread(target=self._server.serve_forever, name="stripe-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> StripeDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # What tests arm and observe.

    def arm(
        self,
        fault: Fault,
        *,
        on: Endpoint = Endpoint.PAYMENT_INTENTS,
        seconds: float = 0.0,
        create: bool = False,
        times: int = 1,
        when: Callable[[dict[str, str]], bool] = lambda params: True,
    ) -> None:
        """The next `times` requests to `on` matching `when` (on their form parameters) meet `fault`."""
        with self._state.lock:
            self._state.faults.extend([(ArmedFault(fault, on, seconds, create), when)] * times)

    @property
    def intents(self) -> list[dict[str, Any]]:
        with self._state.lock:
            return [dict(intent) for intent in self._state.intents.values()]

    @property
    def refunds(self) -> list[dict[str, Any]]:
        with self._state.lock:
            return [dict(refund) for refund in self._state.refunds.values()]

    def amount_refunded(self, payment_intent: str) -> int:
        with self._state.lock:
            return self._state.refunded.get(payment_intent, 0)

    @property
    def seen(self) -> list[SeenRequest]:
        """The POST /v1/payment_intents requests."""
        return self.requests(Endpoint.PAYMENT_INTENTS)

    def requests(self, endpoint: Endpoint) -> list[SeenRequest]:
        with self._state.lock:
            return list(self._state.seen[endpoint])

    def keys(self, endpoint: Endpoint = Endpoint.PAYMENT_INTENTS) -> set[str | None]:
        """Every Idempotency-Key a creation on `endpoint` (a PaymentIntent's by default) was sent with."""
        return {request.idempotency_key for request in self.requests(endpoint)}

    def saw_version(self, version: str | None) -> None:
        with self._state.lock:
            self._state.versions.add(version)

    @property
    def versions(self) -> set[str | None]:
        """Every Stripe-Version header requests were sent with (None: without one)."""
        with self._state.lock:
            return set(self._state.versions)

    def add_customer(self, *payment_methods: str) -> str:
        """A Customer with these PaymentMethods saved to it (pm_... ids of the double's own making)."""
        customer = "cus_" + secrets.token_hex(7)
        with self._state.lock:
            self._state.customers[customer] = set(payment_methods)
        return customer

    def authenticate(self, intent_id: str, succeed: bool = True) -> dict[str, Any]:
        """The customer's 3-D Secure step, as Stripe.js handleNextAction ends it: the PaymentIntent succeeds,
        or fails back to requires_payment_method. Events follow as at Stripe."""
        with self._state.lock:
            intent = self._state.intents[intent_id]
            if intent["status"] != "requires_action":
                return dict(intent)
            intent["next_action"] = None
            if succeed:
                intent["status"] = "succeeded"
            else:
                intent["status"] = "requires_payment_method"
                intent["last_payment_error"] = {
                    "type": "card_error",
                    "code": "payment_intent_authentication_failure",
                    "message": "The provided PaymentMethod has failed authentication.",
                }
            snapshot = dict(intent)
        self.events.emit("payment_intent.succeeded" if succeed else "payment_intent.payment_failed", snapshot)
        return snapshot

    def settle_refunds(self) -> list[dict[str, Any]]:
        """What the banks later make of refunds: pending ones (pm_card_pendingRefund) succeed, succeeded ones
        of pm_card_refundFail fail and their amount becomes refundable again. The refunds that changed."""
        changed: list[dict[str, Any]] = []
        with self._state.lock:
            for refund in self._state.refunds.values():
                method = self._state.intents[refund["payment_intent"]]["payment_method"]
                if refund["status"] == "pending":
                    refund["status"] = "succeeded"
                elif refund["status"] == "succeeded" and method == "pm_card_refundFail":
                    refund.update(status="failed", failure_reason="expired_or_canceled_card")
                    self._state.refunded[refund["payment_intent"]] -= refund["amount"]
                else:
                    continue
                changed.append(dict(refund))
        for refund in changed:
            if refund["status"] == "failed":
                self.events.emit("refund.failed", refund)
            self.events.emit("refund.updated", refund)
            self.events.emit("charge.refund.updated", refund)
        return changed

    # The server side.

    def get(self, path: str, api_key: str, params: dict[str, str], version: str | None) -> tuple[int, bytes]:
        """(status, body) for one GET: a list, a retrieve or a search."""
        self.saw_version(version)
        if path == Endpoint.SEARCH.value:
            return self.search(api_key, params)
        refused = _unauthenticated(api_key)
        if refused is not None:
            return _encode(*refused)
        if path in (Endpoint.PAYMENT_INTENTS.value, Endpoint.REFUNDS.value):
            endpoint = Endpoint.LIST_INTENTS if path == Endpoint.PAYMENT_INTENTS.value else Endpoint.LIST_REFUNDS
            status, document = self._list(endpoint, api_key, params)
            with self._state.lock:
                self._state.seen[endpoint].append(SeenRequest(None, params, status, False, True))
            return _encode(status, document)
        kind, _, object_id = path.removeprefix("/v1/").partition("/")
        with self._state.lock:
            store = {"payment_intents": self._state.intents, "refunds": self._state.refunds}.get(kind)
            found = None if store is None or "/" in object_id else store.get(object_id)
            if found is not None:
                return _encode(200, dict(found))
        if store is None:
            return _encode(404, {"error": {"type": "invalid_request_error", "message": "no route"}})
        return _encode(*_missing(kind.rstrip("s"), object_id))

    def _list(self, endpoint: Endpoint, api_key: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        fault = self._take_fault(endpoint, params, {Fault.RATE_LIMIT, Fault.SLOW, Fault.SERVER_ERROR})
        if fault is not None and fault.fault is Fault.RATE_LIMIT:
            return _error(429, "invalid_request_error", "Too many requests", code="rate_limit")
        if fault is not None and fault.fault is Fault.SLOW:
            time.sleep(fault.seconds)
            fault = self._take_fault(endpoint, params, {Fault.SERVER_ERROR})
        if fault is not None:
            return _error(500, "api_error", "An unknown error occurred")
        for name, value in params.items():
            if name not in LIST_PARAMS:
                return _error(400, "invalid_request_error", f"Received unknown parameter: {name}", param=name)
            numeric = name == "limit" or name.startswith("created[")
            if numeric and (not value.isdigit() or (name == "limit" and not 1 <= int(value) <= 100)):
                return _error(400, "invalid_request_error", f"Invalid integer: {value}", param=name)
        with self._state.lock:
            store = self._state.intents if endpoint is Endpoint.LIST_INTENTS else self._state.refunds
            # Newest first, as Stripe lists; ties keep creation order reversed.
            items = [dict(item) for item in reversed(store.values()) if _listed(item, params)]
        after = params.get("starting_after")
        if after is not None:
            ids = [item["id"] for item in items]
            if after not in ids:
                return _missing("object", after, "starting_after")
            items = items[ids.index(after) + 1 :]
        limit = int(params.get("limit", "10"))
        return 200, {
            "object": "list",
            "url": endpoint.value.split()[-1],
            "data": items[:limit],
            "has_more": len(items) > limit,
        }

    def cancel(self, intent_id: str, api_key: str, params: dict[str, str]) -> tuple[int, bytes]:
        refused = _unauthenticated(api_key)
        if refused is not None:
            return _encode(*refused)
        with self._state.lock:
            intent = self._state.intents.get(intent_id)
            if intent is None:
                return _encode(*_missing("payment_intent", intent_id))
            if intent["status"] not in CANCELABLE:
                return _encode(
                    *_error(
                        400,
                        "invalid_request_error",
                        f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}.",
                        code="payment_intent_unexpected_state",
                    )
                )
            intent.update(status="canceled", next_action=None, cancellation_reason=params.get("cancellation_reason"))
            snapshot = dict(intent)
        self.events.emit("payment_intent.canceled", snapshot)
        return _encode(200, snapshot)

    def test_helper(self, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        """The double's own buttons for `make run` (Stripe has no such endpoints): the customer's 3-D Secure
        step, the banks settling refunds."""
        parts = path.removeprefix("/v1/test_helpers/").split("/")
        if len(parts) == 3 and parts[0] == "payment_intents" and parts[2] == "authenticate":
            if parts[1] not in self._state.intents:
                return _encode(*_missing("payment_intent", parts[1]))
            return _encode(200, self.authenticate(parts[1], params.get("succeed", "true") == "true"))
        if parts == ["refunds", "settle"]:
            return _encode(200, {"object": "list", "data": self.settle_refunds()})
        return _encode(404, {"error": {"type": "invalid_request_error", "message": "no route"}})

    def _take_fault(self, endpoint: Endpoint, params: dict[str, str], kinds: set[Fault]) -> ArmedFault | None:
        with self._state.lock:
            for index, (armed, when) in enumerate(self._state.faults):
                if armed.endpoint is endpoint and armed.fault in kinds and when(params):
                    del self._state.faults[index]
                    return armed
        return None

    def post(
        self, endpoint: Endpoint, api_key: str, idempotency_key: str | None, params: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str], bool]:
        """(status, body, extra headers, answer lost?) for one POST to `endpoint`."""
        status, body, headers = self._create(endpoint, api_key, idempotency_key, params)
        lost = self._take_fault(endpoint, params, {Fault.LOSE_ANSWER}) is not None
        replayed = headers.get("Idempotent-Replayed") == "true"
        with self._state.lock:
            self._state.seen[endpoint].append(SeenRequest(idempotency_key, params, status, replayed, not lost))
        return status, body, headers, lost

    def search(self, api_key: str, params: dict[str, str]) -> tuple[int, bytes]:
        """(status, body) for one GET /v1/payment_intents/search."""
        status, document = self._search(api_key, params)
        with self._state.lock:
            self._state.seen[Endpoint.SEARCH].append(SeenRequest(None, params, status, False, True))
        return _encode(status, document)

    def _search(self, api_key: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        refused = _unauthenticated(api_key)
        if refused is not None:
            return refused
        fault = self._take_fault(Endpoint.SEARCH, params, {Fault.RATE_LIMIT, Fault.SLOW, Fault.SERVER_ERROR})
        if fault is not None and fault.fault is Fault.RATE_LIMIT:
            return _error(429, "invalid_request_error", "Too many requests", code="rate_limit")
        if fault is not None and fault.fault is Fault.SLOW:
            time.sleep(fault.seconds)
            fault = self._take_fault(Endpoint.SEARCH, params, {Fault.SERVER_ERROR})
        if fault is not None:
            return _error(500, "api_error", "An unknown error occurred")
        invalid = _invalid_search(params)
        if invalid is not None:
            return invalid
        match = SEARCH_QUERY.fullmatch(params["query"])
        assert match is not None  # _invalid_search refused anything else
        limit, start = int(params.get("limit", "10")), int(params.get("page") or 0)
        now = time.monotonic()
        with self._state.lock:
            found = [
                dict(intent)
                for intent in reversed(self._state.intents.values())  # newest first, as Stripe sorts
                if intent["metadata"].get("idempotency_reference") == match["value"]
                and self._state.searchable_at[intent["id"]] <= now
            ]
        more = len(found) > start + limit
        return 200, {
            "object": "search_result",
            "url": Endpoint.SEARCH.value,
            "data": found[start : start + limit],
            "has_more": more,
            "next_page": str(start + limit) if more else None,
        }

    def _create(
        self, endpoint: Endpoint, api_key: str, idempotency_key: str | None, params: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        refused = self._refusal(endpoint, api_key, params)
        if refused is not None:
            return (*_encode(*refused), {})
        if idempotency_key is None:
            return (*_encode(*self._execute(endpoint, params)), {})
        slot = (api_key, idempotency_key)
        with self._state.lock:
            saved = self._state.saved.get(slot)
            if saved is None and slot in self._state.in_flight:
                status, document = _error(
                    409,
                    "invalid_request_error",
                    "There is currently another in-progress request using this Idempotent Key. Please try again.",
                    code="idempotency_key_in_use",
                )
                return status, json.dumps(document).encode(), {}
            if saved is None:
                self._state.in_flight.add(slot)
        if saved is not None:
            if (saved.endpoint, saved.params) != (endpoint, params):
                return (*_encode(*_mismatch(idempotency_key)), {})
            return saved.status, saved.body, {"Idempotent-Replayed": "true", "Idempotency-Key": idempotency_key}
        try:
            status, body = _encode(*self._execute(endpoint, params))
            with self._state.lock:
                self._state.saved[slot] = _Saved(endpoint, params, status, body)
        finally:
            with self._state.lock:
                self._state.in_flight.discard(slot)
        return status, body, {"Idempotency-Key": idempotency_key}

    def _refusal(self, endpoint: Endpoint, api_key: str, params: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
        """Answers given before the endpoint runs: never saved under the key."""
        refused = _unauthenticated(api_key)
        if refused is not None:
            return refused
        fault = self._take_fault(endpoint, params, {Fault.RATE_LIMIT, Fault.IDEMPOTENCY_ERROR})
        if fault is not None and fault.fault is Fault.RATE_LIMIT:
            return _error(429, "invalid_request_error", "Too many requests", code="rate_limit")
        if fault is not None:
            return _mismatch("(armed)")
        if endpoint is Endpoint.REFUNDS:
            return _invalid_refund(params)
        return _invalid_intent(params) or self._invalid_customer(params)

    def _invalid_customer(self, params: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
        customer, method = params.get("customer"), params.get("payment_method", "")
        with self._state.lock:
            saved = self._state.customers.get(customer) if customer else None
        if customer is not None and saved is None:
            return _missing("customer", customer, "customer")
        if method not in METHODS and method not in (saved or set()):
            return _missing("PaymentMethod", method, "payment_method")
        if params.get("off_session") not in (None, "true", "false"):
            return _error(400, "invalid_request_error", "Invalid boolean", param="off_session")
        return None

    def _execute(self, endpoint: Endpoint, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        fault = self._take_fault(endpoint, params, {Fault.SLOW, Fault.SERVER_ERROR})
        if fault is not None and fault.fault is Fault.SLOW:
            time.sleep(fault.seconds)
            fault = self._take_fault(endpoint, params, {Fault.SERVER_ERROR})
        run = self._execute_intent if endpoint is Endpoint.PAYMENT_INTENTS else self._execute_refund
        if fault is not None:  # SERVER_ERROR
            if fault.create:
                run(params)
            return _error(500, "api_error", "An unknown error occurred")
        return run(params)

    def _execute_intent(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        # A customer's saved PaymentMethod behaves as a plain card.
        status, code, decline_code = METHODS.get(params["payment_method"], METHODS["pm_card_visa"])
        intent = self._new_intent(params)
        self.events.emit("payment_intent.created", intent)
        if params["payment_method"] == "pm_card_slow":
            time.sleep(self.slow_seconds)  # the PaymentIntent exists, "processing", all this time
        if status == "requires_action" and params.get("off_session") == "true":
            # No customer to authenticate: Stripe declines at once and leaves nothing awaiting anyone.
            status, code, decline_code = "requires_payment_method", "authentication_required", "authentication_required"
        with self._state.lock:
            if code is not None:
                failure = {"type": "card_error", "code": code, "message": "Your card was declined."}
                if decline_code is not None:
                    failure["decline_code"] = decline_code
                intent.update(status=status, last_payment_error=failure)
            else:
                intent["status"] = status
                if status == "requires_action":
                    intent["next_action"] = {
                        "type": "use_stripe_sdk",
                        "use_stripe_sdk": {"type": "three_d_secure_redirect"},
                    }
            snapshot = dict(intent)
        kind = {"succeeded": "payment_intent.succeeded", "requires_action": "payment_intent.requires_action"}
        self.events.emit(kind.get(status, "payment_intent.payment_failed"), snapshot)
        if code is not None:
            return 402, {"error": {**snapshot["last_payment_error"], "payment_intent": snapshot}}
        return 200, snapshot

    def _new_intent(self, params: dict[str, str]) -> dict[str, Any]:
        intent_id = "pi_" + secrets.token_hex(12)
        intent: dict[str, Any] = {
            "id": intent_id,
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
            "customer": params.get("customer"),
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "payment_method": params["payment_method"],
            "payment_method_types": ["card"],
            "setup_future_usage": None,
            "status": "processing",
            "livemode": False,
            "created": int(time.time()),
            "metadata": _metadata(params),
            "last_payment_error": None,
            "next_action": None,
        }
        with self._state.lock:
            self._state.intents[intent["id"]] = intent
            self._state.searchable_at[intent["id"]] = time.monotonic() + self.indexing_delay_seconds
        return intent

    def _execute_refund(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        intent_id = params["payment_intent"]
        with self._state.lock:  # checked and counted at once: racing refunds never exceed the PaymentIntent
            intent = self._state.intents.get(intent_id)
            if intent is None:
                return _error(
                    400,
                    "invalid_request_error",
                    f"No such payment_intent: '{intent_id}'",
                    param="payment_intent",
                    code="resource_missing",
                )
            if intent["status"] != "succeeded":
                return _error(
                    400,
                    "invalid_request_error",
                    f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                    param="payment_intent",
                    code="payment_intent_unexpected_state",
                )
            remaining = intent["amount"] - self._state.refunded.get(intent_id, 0)
            amount = int(params.get("amount", remaining))
            if remaining == 0:
                return _error(
                    400,
                    "invalid_request_error",
                    f"PaymentIntent {intent_id} has already been refunded.",
                    code="charge_already_refunded",
                )
            if amount > remaining:
                return _error(
                    400,
                    "invalid_request_error",
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                    param="amount",
                    code="amount_too_large",
                )
            self._state.refunded[intent_id] = self._state.refunded.get(intent_id, 0) + amount
            pending = intent["payment_method"] == "pm_card_pendingRefund"
            refund: dict[str, Any] = {
                "id": "re_" + secrets.token_hex(12),
                "object": "refund",
                "amount": amount,
                "currency": intent["currency"],
                "payment_intent": intent_id,
                "status": "pending" if pending else "succeeded",
                "reason": params.get("reason"),
                "created": int(time.time()),
                "metadata": _metadata(params),
            }
            self._state.refunds[refund["id"]] = refund
            snapshot = dict(refund)
        self.events.emit("refund.created", snapshot)
        return 200, snapshot


def _unauthenticated(api_key: str) -> tuple[int, dict[str, Any]] | None:
    if api_key not in (TEST_KEY, RESTRICTED_KEY):
        return _error(401, "invalid_request_error", "Invalid API Key provided: sk_test_****")
    if api_key == RESTRICTED_KEY:
        return _error(403, "invalid_request_error", "The provided key does not have the required permissions")
    return None


def _invalid_search(params: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
    """Stripe's validation of a search, narrowed to the one query this double understands."""
    for name in params:
        if name not in SEARCH_PARAMS:
            return _error(
                400,
                "invalid_request_error",
                f"Received unknown parameter: {name}",
                param=name,
                code="parameter_unknown",
            )
    query = params.get("query")
    if not query:
        return _error(
            400, "invalid_request_error", "Missing required param: query.", param="query", code="parameter_missing"
        )
    if SEARCH_QUERY.fullmatch(query) is None:
        return _error(
            400,
            "invalid_request_error",
            f"This double only searches metadata['idempotency_reference']:'<value>', not: {query}",
            param="query",
            code="parameter_invalid_string",
        )
    limit = params.get("limit", "10")
    if not limit.isdigit() or not 1 <= int(limit) <= 100:
        return _error(
            400, "invalid_request_error", "Invalid integer: limit", param="limit", code="parameter_invalid_integer"
        )
    if not (params.get("page") or "0").isdigit():
        return _error(400, "invalid_request_error", "Invalid page", param="page", code="parameter_invalid_string")
    return None


def _missing(kind: str, object_id: str, param: str = "id") -> tuple[int, dict[str, Any]]:
    """Stripe's resource_missing: 404 for the object of the URL, 400 for one named by a parameter."""
    status = 404 if param == "id" else 400
    return _error(
        status, "invalid_request_error", f"No such {kind}: '{object_id}'", param=param, code="resource_missing"
    )


def _listed(item: dict[str, Any], params: dict[str, str]) -> bool:
    """Whether a list's filters keep `item`: created bounds (unix seconds) and the object it belongs to."""
    created = item["created"]
    bounds = {"gte": created.__ge__, "lte": created.__le__, "gt": created.__gt__, "lt": created.__lt__}
    for name, keeps in bounds.items():
        value = params.get(f"created[{name}]")
        if value is not None and not keeps(int(value)):
            return False
    return all(params[name] == item.get(name) for name in ("payment_intent", "customer") if name in params)


def _metadata(params: dict[str, str]) -> dict[str, str]:
    return {k[len("metadata[") : -1]: v for k, v in params.items() if k.startswith("metadata[")}


def _mismatch(key: str) -> tuple[int, dict[str, Any]]:
    return _error(
        400,
        "idempotency_error",
        f"Keys for idempotent requests can only be used with the same parameters they were first used with. "
        f"Try using a key other than '{key}' if you meant to execute a different request.",
    )


def _invalid_intent(params: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
    """Stripe's parameter validation, for the parameters this API sends."""
    amount = params.get("amount", "")
    if not amount.isdigit():
        return _error(
            400, "invalid_request_error", "Invalid integer: amount", param="amount", code="parameter_invalid_integer"
        )
    if int(amount) < MIN_AMOUNT:
        return _error(
            400, "invalid_request_error", "Amount must be at least 50", param="amount", code="amount_too_small"
        )
    if params.get("currency") not in CURRENCIES:
        return _error(
            400, "invalid_request_error", "Invalid currency", param="currency", code="parameter_invalid_string"
        )
    why = refusal(int(amount), params["currency"])
    if why is not None:
        return _error(400, "invalid_request_error", why, param="amount", code="amount_invalid")
    if params.get("confirm") != "true" or params.get("allowed_payment_method_types[0]") != "card":
        return _error(400, "invalid_request_error", "This double expects confirm=true and card only", param="confirm")
    return None


REFUND_PARAMS = frozenset({"payment_intent", "amount", "reason"})
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


def _invalid_refund(params: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
    """Stripe's parameter validation of a refund (of a PaymentIntent: this double knows no charges)."""
    for name in params:
        if name not in REFUND_PARAMS and not name.startswith("metadata["):
            return _error(
                400,
                "invalid_request_error",
                f"Received unknown parameter: {name}",
                param=name,
                code="parameter_unknown",
            )
    if not params.get("payment_intent"):
        return _error(
            400,
            "invalid_request_error",
            "This double refunds a payment_intent only",
            param="payment_intent",
            code="parameter_missing",
        )
    amount = params.get("amount")
    if amount is not None and (not amount.isdigit() or int(amount) < 1):
        return _error(
            400,
            "invalid_request_error",
            "Invalid positive integer",
            param="amount",
            code="parameter_invalid_integer",
        )
    if params.get("reason") not in (None, *REFUND_REASONS):
        return _error(400, "invalid_request_error", "Invalid reason", param="reason", code="parameter_invalid_string")
    return None


def _encode(status: int, document: dict[str, Any]) -> tuple[int, bytes]:
    return status, json.dumps(document).encode()


def _handler_for(double: StripeDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's session expects

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path = self.path.split("?")[0]
            api_key = self._api_key()
            params = dict(parse_qsl(body, keep_blank_values=True))
            double.saw_version(self.headers.get("Stripe-Version"))
            if path.startswith("/v1/test_helpers/"):
                self._answer(*double.test_helper(path, params))
                return
            if path.startswith("/v1/payment_intents/") and path.endswith("/cancel"):
                self._answer(*double.cancel(path.split("/")[3], api_key, params))
                return
            endpoint = next((e for e in CREATIONS if e.value == path), None)
            if endpoint is None:
                self._no_route()
                return
            status, payload, headers, lost = double.post(endpoint, api_key, self.headers.get("Idempotency-Key"), params)
            if lost:
                self.close_connection = True  # closed unanswered: the client sees the connection drop
                return
            self._answer(status, payload, headers)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            self._answer(*double.get(url.path, self._api_key(), params, self.headers.get("Stripe-Version")))

        def _api_key(self) -> str:
            return (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()

        def _no_route(self) -> None:
            self._answer(404, json.dumps({"error": {"type": "invalid_request_error", "message": "no route"}}).encode())

        def _answer(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Request-Id", "req_" + secrets.token_hex(8))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (a timeout): nothing to answer

    return Handler
