"""Stripe behind the processor port, through the official SDK. Imported only when PAYMENT_PROCESSOR=stripe.

One PaymentIntent per payment, created and confirmed in one call, with our stable reference as
Stripe's own Idempotency-Key: the SDK's network retries, our retries after a release and takeovers
all send the same key, so Stripe answers them with the first PaymentIntent instead of a new one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import requests
import stripe
from stripe.params import PaymentIntentCreateParams, RefundCreateParams

from ..domain.processor import (
    Charge,
    Charged,
    ChargeState,
    Declined,
    InvalidPaymentRequest,
    InvalidPaymentSource,
    Lookup,
    NotCharged,
    ProcessorIdempotencyError,
    ProcessorMisconfigured,
    ProcessorRefund,
    ProcessorUnavailable,
    RefundLookup,
    RefundRefused,
    Unknown,
)

DEFAULT_API_BASE = "https://api.stripe.com"
# The decline code we record when the card needs its holder (3-D Secure): Stripe's own name for it.
NEEDS_CUSTOMER = "authentication_required"
MIN_ATTEMPT_S = 1.0  # shorter attempts would time out on a healthy Stripe
# Parameters whose refusal means the request's own amount or currency, not our code, is at fault.
_REQUEST_PARAMS = frozenset({"amount", "currency"})


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
    ) -> None:
        """api_key: called per charge, so a rotated secret is picked up once its cache expires."""
        self._api_key = api_key
        self._api_base = api_base.rstrip("/")
        self._max_retries = max_network_retries
        self._attempt_timeout_s = attempt_timeout_s
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
        plan = attempt_plan(timeout_s, self._max_retries, self._attempt_timeout_s)
        if plan is None:  # nothing is sent, so nothing can have been charged
            raise ProcessorUnavailable("too little time left to call Stripe")
        retries, per_attempt_s = plan
        client = self._client(retries, per_attempt_s)
        params: PaymentIntentCreateParams = {
            "amount": amount,
            "currency": currency.lower(),
            "payment_method": source,
            "allowed_payment_method_types": ["card"],  # card only: nothing can redirect the customer elsewhere
            "confirm": True,
            "metadata": {"idempotency_reference": reference},
        }
        try:
            intent = client.v1.payment_intents.create(params, {"idempotency_key": reference})
        except stripe.StripeError as error:
            mapped = _port_error(error)
            if mapped is error:
                raise
            raise mapped from error
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
        retries, per_attempt_s = attempt_plan(None, self._max_retries, self._attempt_timeout_s) or (0, 1.0)
        client = self._client(retries, per_attempt_s)
        params: RefundCreateParams = {
            "payment_intent": charge_id,
            "amount": amount,
            "metadata": {"idempotency_reference": reference},
        }
        try:
            refund = client.v1.refunds.create(params, {"idempotency_key": reference})
        except stripe.InvalidRequestError as error:
            # Already refunded, disputed, more than remains at Stripe...: refused for good, nothing moved.
            raise RefundRefused(error.code or "refund_refused") from error
        except stripe.StripeError as error:
            mapped = _port_error(error)
            if mapped is error:
                raise
            raise mapped from error
        if refund.status in ("failed", "canceled"):
            raise RefundRefused(refund.failure_reason or "refund_failed")
        return ProcessorRefund(id=refund.id)  # succeeded, or pending: Stripe has accepted it

    def find(self, reference: str, *, not_before_ms: int | None = None, timeout_s: float | None = None) -> Lookup:
        """The PaymentIntent made under `reference`, through Stripe's search on our metadata.

        Search is eventually consistent: NotCharged is only trustworthy for references older than its
        indexing delay, which the reconciler's minimum age accounts for (RECONCILER_MIN_AGE_SECONDS)."""
        retries, per_attempt_s = attempt_plan(None, self._max_retries, self._attempt_timeout_s) or (0, 1.0)
        query = f"metadata['idempotency_reference']:'{reference}'"  # references are [0-9a-f-]: nothing to escape
        try:
            found = self._client(retries, per_attempt_s).v1.payment_intents.search({"query": query, "limit": 10})
        except stripe.StripeError:
            return Unknown()
        intents = list(found.data)
        if any(intent.status == "succeeded" for intent in intents):
            return Charged(Charge(id=next(i.id for i in intents if i.status == "succeeded")))
        if any(intent.status in ("processing", "requires_capture") for intent in intents):
            return Unknown()  # the money may still move
        return NotCharged()

    # Issue 19 replaces these placeholders (the port's new calls) with the SDK's; until then: outcome unknown.
    def find_refund(
        self, *, reference: str, charge_id: str, not_before_ms: int | None = None, timeout_s: float | None = None
    ) -> RefundLookup:
        return Unknown()

    def charge_state(self, charge_id: str, *, timeout_s: float | None = None) -> ChargeState:
        raise ProcessorUnavailable("charge_state: not built yet")

    def cancel(self, charge_id: str, *, timeout_s: float | None = None) -> ChargeState:
        raise ProcessorUnavailable("cancel: not built yet")

    def refund_state(self, refund_id: str, *, timeout_s: float | None = None) -> ProcessorRefund:
        raise ProcessorUnavailable("refund_state: not built yet")

    def _client(self, retries: int, per_attempt_s: float) -> stripe.StripeClient:
        # Built per call: the timeout depends on the time left, and the key may have been rotated. Cheap; the
        # session (and its connections) is reused.
        http = stripe.RequestsClient(timeout=per_attempt_s, session=self._session())
        return stripe.StripeClient(
            self._api_key(), base_addresses={"api": self._api_base}, max_network_retries=retries, http_client=http
        )

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session


def _charge_of(intent: Any) -> Charge:
    status = intent.status
    if status == "succeeded":
        return Charge(id=intent.id)
    if status in ("requires_action", "requires_confirmation"):
        # The customer must act (3-D Secure) and this API has no such step: recorded as a decline.
        raise Declined(NEEDS_CUSTOMER)
    if status in ("requires_payment_method", "canceled"):
        failure = intent.last_payment_error
        raise Declined((failure and (failure.decline_code or failure.code)) or "payment_failed")
    # "processing" (or anything new): the money may still move. Unknown outcome, left to reconciliation.
    raise ProcessorUnavailable(f"PaymentIntent {intent.id} is {status}")


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
