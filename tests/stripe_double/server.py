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

Not a Stripe emulator: no other endpoint, no webhooks. Stripe's own stripe-mock does not keep state
or idempotency, which is why this double exists.
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

TEST_KEY = "sk_test_double"
RESTRICTED_KEY = "sk_test_double_restricted"  # authenticates, but may not create PaymentIntents (403)
CURRENCIES = frozenset({"usd", "eur", "gbp", "chf", "jpy", "cad", "aud"})
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
    "pm_card_slow": ("succeeded", None, None),  # the double's own: processing for `slow_seconds`, then succeeds
}


class Endpoint(enum.StrEnum):
    PAYMENT_INTENTS = "/v1/payment_intents"
    REFUNDS = "/v1/refunds"
    SEARCH = "/v1/payment_intents/search"  # GET


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
    faults: list[tuple[ArmedFault, Callable[[dict[str, str]], bool]]] = field(default_factory=list)


def _error(status: int, kind: str, message: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": kind, "message": message, **extra}}


class StripeDouble:
    """Start with `with StripeDouble() as double:` (or start()/stop()); point the SDK at `double.url`."""

    def __init__(self, port: int = 0, slow_seconds: float = 3.0, indexing_delay_seconds: float = 0.0) -> None:
        self.slow_seconds = slow_seconds
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

    # The server side.

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
        return _invalid_intent(params) if endpoint is Endpoint.PAYMENT_INTENTS else _invalid_refund(params)

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
        status, code, decline_code = METHODS[params["payment_method"]]
        intent = self._new_intent(params)
        if params["payment_method"] == "pm_card_slow":
            time.sleep(self.slow_seconds)  # the PaymentIntent exists, "processing", all this time
        if code is not None:
            failure = {"type": "card_error", "code": code, "message": "Your card was declined."}
            if decline_code is not None:
                failure["decline_code"] = decline_code
            intent.update(status=status, last_payment_error=failure)
            return 402, {"error": {**failure, "payment_intent": intent}}
        intent["status"] = status
        if status == "requires_action":
            intent["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
        return 200, intent

    def _new_intent(self, params: dict[str, str]) -> dict[str, Any]:
        intent: dict[str, Any] = {
            "id": "pi_" + secrets.token_hex(12),
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "payment_method": params["payment_method"],
            "payment_method_types": ["card"],
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
            refund: dict[str, Any] = {
                "id": "re_" + secrets.token_hex(12),
                "object": "refund",
                "amount": amount,
                "currency": intent["currency"],
                "payment_intent": intent_id,
                "status": "succeeded",
                "reason": params.get("reason"),
                "created": int(time.time()),
                "metadata": _metadata(params),
            }
            self._state.refunds[refund["id"]] = refund
        return 200, refund


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
    method = params.get("payment_method", "")
    if method not in METHODS:
        return _error(
            400,
            "invalid_request_error",
            f"No such PaymentMethod: '{method}'",
            param="payment_method",
            code="resource_missing",
        )
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
            endpoint = next((e for e in CREATIONS if e.value == self.path.split("?")[0]), None)
            if endpoint is None:
                self._no_route()
                return
            api_key = self._api_key()
            params = dict(parse_qsl(body, keep_blank_values=True))
            status, payload, headers, lost = double.post(endpoint, api_key, self.headers.get("Idempotency-Key"), params)
            if lost:
                self.close_connection = True  # closed unanswered: the client sees the connection drop
                return
            self._answer(status, payload, headers)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != Endpoint.SEARCH.value:
                self._no_route()
                return
            self._answer(*double.search(self._api_key(), dict(parse_qsl(url.query, keep_blank_values=True))))

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
