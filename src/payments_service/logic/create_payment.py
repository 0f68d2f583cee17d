"""Create a payment exactly once per (merchant, idempotency key)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..domain.errors import Conflict
from ..domain.payments import RecordDecline, RecordPayment, payment_id_for, rfc3339
from ..domain.processor import (
    Charge,
    Declined,
    InvalidPaymentRequest,
    InvalidPaymentSource,
    PaymentProcessor,
    ProcessorUnavailable,
)
from ..domain.stored_payments import DeclinedPayment, StoredPayment
from ..idempotency import Claim, Completion, IdempotencyEngine, IdempotentRequest, WriteRejected
from ..idempotency.clock import Clock
from ..idempotency.fingerprint import canonical_json
from ..models.payments import CreatePaymentRequest, RecordedPayment

OPERATION = "payments.create"
# A payment awaiting its customer normally hears from the processor's webhook within minutes; the
# reconciler asks the processor itself after this long (a lost or early event), then less and less often.
FIRST_FOLLOW_UP_MS = 15 * 60 * 1000


class PaymentConflict(Conflict):
    """The payment record already exists although its key never completed: an operator must look."""


@dataclass(frozen=True)
class PaymentResult:
    recorded: RecordedPayment
    replayed: bool

    @property
    def outcome(self) -> str:
        return "replayed" if self.replayed else self.recorded.outcome


def idempotent_request(merchant: str, key: str, request: CreatePaymentRequest) -> IdempotentRequest:
    """The same for every transport: an HTTP request and a queued message with one key are one payment."""
    # The client's explicit input only (a value equal to its default is as if unsent): a deploy that
    # adds an optional field leaves every live key's fingerprint as it was.
    payload = canonical_json(request.model_dump(mode="json", exclude_defaults=True))
    # Keys claimed before fingerprints were versioned hashed the dump with defaults.
    unversioned = canonical_json(request.model_dump(mode="json"))
    return IdempotentRequest(
        scope=merchant, key=key, operation=OPERATION, payload=payload, unversioned_payload=unversioned
    )


def request_from_payload(payload: str) -> CreatePaymentRequest:
    """The request as stored with its key at claim (the client's explicit input), defaults restored."""
    return CreatePaymentRequest.model_validate_json(payload)


def _attempt(merchant: str, request: CreatePaymentRequest, reference: str, now_ms: int) -> dict[str, Any]:
    """What every record of this attempt holds, charged or declined: its id comes from the reference."""
    return {
        "id": payment_id_for(reference),
        "merchant_id": merchant,
        "amount": request.amount,
        "currency": request.currency,
        "description": request.description,
        "metadata": request.metadata,
        "created_at": rfc3339(now_ms),
    }


def charged(merchant: str, request: CreatePaymentRequest, reference: str, charge: Charge, now_ms: int) -> Completion:
    """What a charge completes with: the payment record and its answer (201, or 202 while the customer must
    authenticate), committed together. The one builder, for the request itself and for a recovery finishing
    it later: same payment id (from the reference), same recorded JSON."""
    awaiting = charge.status == "requires_action"
    payment = StoredPayment(
        processor_payment_id=charge.id,
        customer=request.customer,
        state=charge.status,
        next_action=dict(charge.next_action) if awaiting and charge.next_action is not None else None,
        client_secret=charge.client_secret if awaiting else None,
        awaiting_since_ms=now_ms if awaiting else None,
        next_check_ms=now_ms + FIRST_FOLLOW_UP_MS if awaiting else None,
        **_attempt(merchant, request, reference, now_ms),
    )
    outcome: Literal["created", "requires_action"] = "requires_action" if awaiting else "created"
    recorded = RecordedPayment(outcome=outcome, payment_id=payment.id, body=payment.public_json())
    # Charged: if the record is refused, keep the reference (release) so a retry cannot charge anew.
    return Completion(recorded.to_record(), writes=(RecordPayment(payment),), if_rejected="release")


class CreatePayment:
    def __init__(
        self, engine: IdempotencyEngine, processor: PaymentProcessor, clock: Clock, commit_reserve_ms: int = 4_700
    ) -> None:
        """commit_reserve_ms: time kept, after the processor call, to record its result before the Lambda ends
        (bootstrap derives it from the DynamoDB time budget, dal/deadline.py)."""
        self._engine = engine
        self._processor = processor
        self._clock = clock
        self._commit_reserve_ms = commit_reserve_ms

    def __call__(
        self,
        merchant: str,
        key: str,
        request: CreatePaymentRequest,
        remaining_ms: int | None = None,
        *,
        off_session: bool = False,
    ) -> PaymentResult:
        """off_session: no customer is present to authenticate (the queue): a card needing 3-D Secure is then
        declined (authentication_required) rather than left awaiting a customer who never comes.

        Raises KeyInUse, KeyReused, ReferenceExpired, TemporarilyUnavailable, InvalidPaymentSource,
        InvalidPaymentRequest, ProcessorMisconfigured, ProcessorIdempotencyError or PaymentConflict."""
        # The processor call must end in time to record its result: before the lease, and the Lambda, end.
        deadline_ms = None if remaining_ms is None else self._clock.now_ms() + remaining_ms - self._commit_reserve_ms

        def charge_once(claim: Claim) -> Completion:
            timeout_s = None if deadline_ms is None else (deadline_ms - self._clock.now_ms()) / 1000
            try:
                charge = self._processor.charge(
                    reference=claim.reference,
                    amount=request.amount,
                    currency=request.currency,
                    source=request.source,
                    timeout_s=timeout_s,
                    customer=request.customer,
                    off_session=off_session,
                )
            except Declined as decline:
                attempt = _attempt(merchant, request, claim.reference, self._clock.now_ms())
                declined = DeclinedPayment(decline_code=decline.decline_code, **attempt)
                recorded = RecordedPayment(outcome="declined", decline_code=decline.decline_code)
                return Completion(recorded.to_record(), writes=(RecordDecline(declined),), if_rejected="release")
            return charged(merchant, request, claim.reference, charge, self._clock.now_ms())

        try:
            outcome = self._engine.run(
                idempotent_request(merchant, key, request),
                charge_once,
                remaining_ms=remaining_ms,
                forget_on=(InvalidPaymentSource, InvalidPaymentRequest),
                retry_on=(ProcessorUnavailable,),
            )
        except WriteRejected as rejected:
            raise PaymentConflict("a payment with this reference is already recorded") from rejected
        return PaymentResult(RecordedPayment.from_record(outcome.result), outcome.replayed)
