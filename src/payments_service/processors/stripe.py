"""Stripe behind the processor port, through the official SDK. Imported only when PAYMENT_PROCESSOR=stripe.

One PaymentIntent per payment, created and confirmed in one call, with our stable reference as
Stripe's own Idempotency-Key: the SDK's network retries, our retries after a release and takeovers
all send the same key, so Stripe answers them with the first PaymentIntent instead of a new one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

import requests
import stripe
from stripe.params import PaymentIntentCreateParams, PaymentIntentListParams, RefundCreateParams, RefundListParams

from ..domain.errors import Transient
from ..domain.processor import (
    Charge,
    Charged,
    ChargeState,
    ChargeStatus,
    Declined,
    InvalidPaymentRequest,
    InvalidPaymentSource,
    Lookup,
    NotCharged,
    NotRefunded,
    ProcessorIdempotencyError,
    ProcessorMisconfigured,
    ProcessorRefund,
    ProcessorUnavailable,
    Refunded,
    RefundLookup,
    RefundRefused,
    RefundStatus,
    Unknown,
)
from .stripe_units import to_stripe

DEFAULT_API_BASE = "https://api.stripe.com"
# Pinned here, not left to the SDK's default: an SDK upgrade must not change what Stripe sends us unseen
# (tests/unit/test_stripe_api_version.py fails when the SDK's default moves; docs/decisions say what then).
STRIPE_API_VERSION = "2026-10-28.endive"
REFERENCE = "idempotency_reference"  # the metadata key on every object this adapter creates
CLOCK_SKEW_S = 300  # our clock against Stripe's, either way, when listing by `created`
MAX_LIST_PAGES = 50  # 5,000 objects: beyond, a lookup answers Unknown rather than run on
# PaymentIntents that moved no money and never will (a new confirmation would need a new attempt).
FAILED_INTENT = frozenset({"requires_payment_method", "canceled"})
_CHARGE_STATES: dict[str, ChargeStatus] = {
    "succeeded": "succeeded",
    "canceled": "canceled",
    "requires_action": "requires_action",
    "requires_payment_method": "failed",
}
_REFUND_STATES: dict[str, RefundStatus] = {s: s for s in ("pending", "succeeded", "failed", "canceled")}
MIN_ATTEMPT_S = 1.0  # shorter attempts would time out on a healthy Stripe
# Parameters whose refusal means the request's own amount, currency or customer, not our code, is at fault.
_REQUEST_PARAMS = frozenset({"amount", "currency", "customer"})


def retry_sleeps_s(retries: int) -> float:
    """The longest the SDK sleeps before `retries` retries (HTTPClient's backoff, jitter at its maximum)."""
    initial, longest = float(stripe.HTTPClient.INITIAL_DELAY), float(stripe.HTTPClient.MAX_DELAY)
    return float(sum(min(initial * 2 ** (n - 1), longest) for n in range(1, retries + 1)))


def attempt_plan(budget_s: float | None, max_retries: int, attempt_timeout_s: float) -> tuple[int, float] | None:
    """(retries, per-attempt timeout) whose worst case fits `budget_s`; None if not even one attempt fits.

    Retries are given up before attempts are cut below MIN_ATTEMPT_S.
    """
    if budget_s is None:
        return max_retries, attempt_timeout_s
    shortest = min(MIN_ATTEMPT_S, attempt_timeout_s)
    for retries in range(max_retries, -1, -1):
        per_attempt = min(attempt_timeout_s, (budget_s - retry_sleeps_s(retries)) / (retries + 1))
        if per_attempt >= shortest:
            return retries, per_attempt
    return None


class StripeProcessor:
    def __init__(
        self,
        api_key: Callable[[], str],
        *,
        api_base: str = DEFAULT_API_BASE,
        max_network_retries: int = 2,
        attempt_timeout_s: float = 8.0,
        idempotency_window_s: int = 86_400,
        now_s: Callable[[], float] = time.time,
    ) -> None:
        """api_key: called per call, so a rotated secret is picked up once its cache expires.
        idempotency_window_s: how long Stripe keeps our references (a lookup with no mint time searches it)."""
        self._api_key = api_key
        self._api_base = api_base.rstrip("/")
        self._max_retries = max_network_retries
        self._attempt_timeout_s = attempt_timeout_s
        self._window_s = idempotency_window_s
        self._now_s = now_s
        self._local = threading.local()  # one HTTP session (kept-alive connections) per thread

    def charge(
        self,
        *,
        reference: str,
        amount: int,
        currency: str,
        source: str,
        timeout_s: float | None = None,
        customer: str | None = None,
        off_session: bool = False,
    ) -> Charge:
        params: PaymentIntentCreateParams = {
            "amount": to_stripe(amount, currency),
            "currency": currency.lower(),
            "payment_method": source,
            "allowed_payment_method_types": ["card"],  # card only: nothing can redirect the customer elsewhere
            "confirm": True,
            "metadata": {REFERENCE: reference},
        }
        # Sent only when set: a reference minted before they existed is re-sent with the very same parameters.
        if customer is not None:
            params["customer"] = customer
        if off_session:
            params["off_session"] = True  # no customer present: 3-D Secure is a decline, nothing is left open
        client = self._client_within(_deadline(timeout_s))
        try:
            intent = client.v1.payment_intents.create(params, {"idempotency_key": reference})
        except stripe.StripeError as error:
            _raise(error)
        return _charge_of(intent)

    def refund(
        self,
        *,
        reference: str,
        charge_id: str,
        amount: int,
        currency: str,
        payment_id: str | None = None,
        timeout_s: float | None = None,
    ) -> ProcessorRefund:
        """One Refund of the PaymentIntent `charge_id`, with our reference as its Idempotency-Key."""
        try:
            stripe_amount = to_stripe(amount, currency)
        except InvalidPaymentRequest as error:
            raise RefundRefused(error.code) from error
        deadline = _deadline(timeout_s)
        metadata = {REFERENCE: reference} | ({"payment_id": payment_id} if payment_id else {})
        params: RefundCreateParams = {"payment_intent": charge_id, "amount": stripe_amount, "metadata": metadata}
        try:
            refund = self._client_within(deadline).v1.refunds.create(params, {"idempotency_key": reference})
        except stripe.IdempotencyError as error:
            # Sent before with other parameters. If a deploy changed only how we describe it (metadata), the
            # refund made then, of this very amount, is the answer; any other difference is a bug of ours.
            found = self._find_refund(reference, charge_id, deadline, stripe_amount)
            if isinstance(found, Refunded):
                return found.refund
            if isinstance(found, Unknown):
                raise ProcessorUnavailable("idempotency_error, and the lookup could not say") from error
            raise ProcessorIdempotencyError(error.user_message or "idempotency_error") from error
        except stripe.InvalidRequestError as error:
            # Already refunded, disputed, more than remains at Stripe...: refused for good, nothing moved.
            raise RefundRefused(error.code or "refund_refused") from error
        except stripe.StripeError as error:
            _raise(error)
        made = _refund_of(refund)
        if made.status in ("failed", "canceled"):
            raise RefundRefused(made.failure_reason or "refund_failed")
        return made  # succeeded, or pending: Stripe has accepted it (either may still fail later)

    def find(self, reference: str, *, not_before_ms: int | None = None, timeout_s: float | None = None) -> Lookup:
        """The PaymentIntent made under `reference`, from Stripe's list by `created` (read-after-write, unlike
        search, which may lag an hour): every PaymentIntent created since the reference was minted, give or
        take clock skew, page by page, matched on our metadata. Any doubt (an API error, time or pages running
        out, a PaymentIntent still processing) is Unknown, never NotCharged."""
        deadline = _deadline(timeout_s)
        now = int(self._now_s())
        since = now - self._window_s if not_before_ms is None else not_before_ms // 1000
        window: PaymentIntentListParams = {"created": {"gte": since - CLOCK_SKEW_S, "lte": now + CLOCK_SKEW_S}}
        try:
            intents = self._matching(lambda c, p: c.v1.payment_intents.list(p), dict(window), reference, deadline)
        except (stripe.StripeError, ProcessorUnavailable, _OutOfTime):  # too little time is a doubt too
            return Unknown()
        statuses = {intent.status for intent in intents}
        if "succeeded" in statuses:
            return Charged(Charge(id=next(i.id for i in intents if i.status == "succeeded")))
        if "requires_action" in statuses:
            return Charged(_charge_of(next(i for i in intents if i.status == "requires_action")))
        if statuses - FAILED_INTENT:
            return Unknown()  # processing, requires_capture, requires_confirmation: the money may still move
        return NotCharged()  # none, or only ones that failed or were canceled: no money moved

    def find_refund(
        self, *, reference: str, charge_id: str, not_before_ms: int | None = None, timeout_s: float | None = None
    ) -> RefundLookup:
        """The refund made under `reference`, from the list of the PaymentIntent's refunds (read-after-write;
        a payment has at most a hundred)."""
        return self._find_refund(reference, charge_id, _deadline(timeout_s))

    def charge_state(self, charge_id: str, *, timeout_s: float | None = None) -> ChargeState:
        try:
            intent = self._client_within(_deadline(timeout_s)).v1.payment_intents.retrieve(charge_id)
        except stripe.StripeError as error:
            _raise(error)
        return _state_of(intent)

    def cancel(self, charge_id: str, *, timeout_s: float | None = None) -> ChargeState:
        deadline = _deadline(timeout_s)
        try:
            intent = self._client_within(deadline).v1.payment_intents.cancel(
                charge_id, {"cancellation_reason": "abandoned"}
            )
        except stripe.InvalidRequestError as error:
            if error.code != "payment_intent_unexpected_state":
                _raise(error)
            # Succeeded or canceled meanwhile: answered as it is.
            return self.charge_state(charge_id, timeout_s=_left(deadline))
        except stripe.StripeError as error:
            _raise(error)
        return _state_of(intent)

    def refund_state(self, refund_id: str, *, timeout_s: float | None = None) -> ProcessorRefund:
        try:
            refund = self._client_within(_deadline(timeout_s)).v1.refunds.retrieve(refund_id)
        except stripe.StripeError as error:
            _raise(error)
        return _refund_of(refund)

    def _find_refund(
        self, reference: str, charge_id: str, deadline: float | None, of_amount: int | None = None
    ) -> RefundLookup:
        params: RefundListParams = {"payment_intent": charge_id}
        try:
            refunds = self._matching(lambda c, p: c.v1.refunds.list(p), dict(params), reference, deadline)
        except (stripe.StripeError, ProcessorUnavailable, _OutOfTime):  # too little time is a doubt too
            return Unknown()
        refunds = [r for r in refunds if of_amount is None or r.amount == of_amount]
        return Refunded(_refund_of(refunds[0])) if refunds else NotRefunded()

    def _matching(
        self,
        page: Callable[[stripe.StripeClient, Any], Any],
        params: dict[str, Any],
        reference: str,
        deadline: float | None,
    ) -> list[Any]:
        """Every object of a list whose metadata holds `reference`, following `has_more` (newest first)."""
        found: list[Any] = []
        for _ in range(MAX_LIST_PAGES):
            listed = page(self._client_within(deadline), {**params, "limit": 100})
            found += [item for item in listed.data if _optional(item, "metadata", REFERENCE) == reference]
            if not listed.has_more or not listed.data:
                return found
            params["starting_after"] = listed.data[-1].id
        raise _OutOfTime(f"more than {MAX_LIST_PAGES} pages")

    def _client_within(self, deadline: float | None) -> stripe.StripeClient:
        """A client whose worst case (every SDK retry, each attempt timing out) ends before `deadline`."""
        plan = attempt_plan(_left(deadline), self._max_retries, self._attempt_timeout_s)
        if plan is None:  # nothing is sent, so nothing can have been charged or refunded
            raise ProcessorUnavailable("too little time left to call Stripe")
        return self._client(*plan)

    def _client(self, retries: int, per_attempt_s: float) -> stripe.StripeClient:
        # Built per call: the timeout depends on the time left, and the key may have been rotated. Cheap; the
        # session (and its connections) is reused.
        http = stripe.RequestsClient(timeout=per_attempt_s, session=self._session())
        return stripe.StripeClient(
            self._api_key(),
            base_addresses={"api": self._api_base},
            max_network_retries=retries,
            http_client=http,
            stripe_version=STRIPE_API_VERSION,
        )

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session


class _OutOfTime(Transient):
    """A lookup could not finish in its budget: its answer is Unknown."""


def _deadline(timeout_s: float | None) -> float | None:
    return None if timeout_s is None else time.monotonic() + timeout_s


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


def _optional(obj: Any, *path: str) -> Any:
    """A field Stripe may omit, read without the SDK's AttributeError (finding 18.7); None when absent."""
    value: Any = obj.to_dict() if hasattr(obj, "to_dict") else obj
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _charge_of(intent: Any) -> Charge:
    status = intent.status
    if status == "succeeded":
        return Charge(id=intent.id)
    if status == "requires_action":
        # 3-D Secure: the merchant's page runs Stripe.js handleNextAction with the client secret.
        return Charge(
            id=intent.id,
            status="requires_action",
            next_action=_optional(intent, "next_action") or {},
            client_secret=_optional(intent, "client_secret"),
        )
    if status in FAILED_INTENT:
        raise Declined(_decline_code(intent) or "payment_failed")
    # "processing", "requires_confirmation" (or anything new): the money may still move. Unknown outcome.
    raise ProcessorUnavailable(f"PaymentIntent {intent.id} is {status}")


def _decline_code(intent: Any) -> str | None:
    code = _optional(intent, "last_payment_error", "decline_code") or _optional(intent, "last_payment_error", "code")
    return code if isinstance(code, str) else None


def _state_of(intent: Any) -> ChargeState:
    status: ChargeStatus = _CHARGE_STATES.get(intent.status, "processing")
    return ChargeState(id=intent.id, status=status, decline_code=_decline_code(intent) if status == "failed" else None)


def _refund_of(refund: Any) -> ProcessorRefund:
    status = _REFUND_STATES.get(refund.status, "pending")  # requires_action (or anything new): not final yet
    reason = _optional(refund, "failure_reason")
    return ProcessorRefund(id=refund.id, status=status, failure_reason=reason if isinstance(reason, str) else None)


def _raise(error: stripe.StripeError) -> NoReturn:
    """Raise the port's name for `error`, from inside its except block (a bug of ours re-raises it as is)."""
    mapped = _port_error(error)
    if mapped is error:
        raise  # noqa: PLE0704 - called only while `error` is being handled
    raise mapped from error


def _port_error(error: stripe.StripeError) -> Exception:
    """The port's name for a Stripe error. Messages are Stripe's own: they never hold the key in full."""
    if isinstance(error, stripe.CardError):
        details = error.error
        return Declined((details and details.decline_code) or error.code or "card_declined")
    if isinstance(error, stripe.IdempotencyError):
        return ProcessorIdempotencyError(error.user_message or "idempotency_error")
    if isinstance(error, (stripe.AuthenticationError, stripe.PermissionError)):
        return ProcessorMisconfigured(f"{type(error).__name__} ({error.http_status})")
    if isinstance(error, stripe.InvalidRequestError):
        return _refusal(error)
    # 429, 5xx (saved by Stripe under the key: a retry gets the same answer), 409 in use, timeouts, connections.
    return ProcessorUnavailable(f"{type(error).__name__} ({error.http_status})")


def _refusal(error: stripe.InvalidRequestError) -> Exception:
    """Stripe refused the request before charging: the client's source, amount or currency, or our own bug."""
    if error.param == "payment_method":
        return InvalidPaymentSource(error.code or "invalid_payment_method")
    if error.param in _REQUEST_PARAMS:
        return InvalidPaymentRequest(error.code or "invalid", error.param)
    return error  # a request we built wrongly: a bug, answered as an internal error
