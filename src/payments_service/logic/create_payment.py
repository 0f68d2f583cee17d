"""Create a payment exactly once per (merchant, idempotency key)."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.payments import RecordPayment, payment_id_for, rfc3339
from ..domain.processor import Charge, Declined, InvalidPaymentSource, PaymentProcessor, ProcessorUnavailable
from ..idempotency import Claim, Completion, IdempotencyEngine, IdempotentRequest, WriteRejected
from ..idempotency.clock import Clock
from ..idempotency.fingerprint import canonical_json
from ..models.payments import CreatePaymentRequest, RecordedPayment, StoredPayment

OPERATION = "payments.create"


class PaymentConflict(Exception):
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


def charged(merchant: str, request: CreatePaymentRequest, reference: str, charge: Charge, now_ms: int) -> Completion:
    """What a charge completes with: the payment record and its 201, committed together. The one builder,
    for the request itself and for a recovery finishing it later: same payment id (from the reference),
    same recorded JSON."""
    payment = StoredPayment(
        id=payment_id_for(reference),
        merchant_id=merchant,
        charge_id=charge.id,
        amount=request.amount,
        currency=request.currency,
        description=request.description,
        metadata=request.metadata,
        created_at=rfc3339(now_ms),
    )
    recorded = RecordedPayment(outcome="created", payment_id=payment.id, payment_json=payment.public_json())
    # Charged: if the record is refused, keep the reference (release) so a retry cannot charge anew.
    return Completion(recorded.model_dump_json(), writes=(RecordPayment(payment),), if_rejected="release")


class CreatePayment:
    def __init__(self, engine: IdempotencyEngine, processor: PaymentProcessor, clock: Clock) -> None:
        self._engine = engine
        self._processor = processor
        self._clock = clock

    def __call__(
        self, merchant: str, key: str, request: CreatePaymentRequest, remaining_ms: int | None = None
    ) -> PaymentResult:
        """Raises KeyInUse, KeyReused, TemporarilyUnavailable, InvalidPaymentSource or PaymentConflict."""

        def charge_once(claim: Claim) -> Completion:
            try:
                charge = self._processor.charge(
                    reference=claim.reference, amount=request.amount, currency=request.currency, source=request.source
                )
            except Declined as decline:
                return Completion(
                    RecordedPayment(outcome="declined", decline_code=decline.decline_code).model_dump_json()
                )
            return charged(merchant, request, claim.reference, charge, self._clock.now_ms())

        try:
            outcome = self._engine.run(
                idempotent_request(merchant, key, request),
                charge_once,
                remaining_ms=remaining_ms,
                forget_on=(InvalidPaymentSource,),
                retry_on=(ProcessorUnavailable,),
            )
        except WriteRejected as rejected:
            raise PaymentConflict("a payment with this reference is already recorded") from rejected
        return PaymentResult(RecordedPayment.model_validate_json(outcome.result), outcome.replayed)
