"""Refund a payment exactly once per (merchant, idempotency key), never beyond what was charged.

1. Reserve: one conditional write on the payment moves the amount from available to pending under
   the refund's processor reference (claim.reference). A retry or a takeover finds its own
   reservation there (pending, or closed if a newer owner already finished: its settlement is then
   fenced off) and never reserves twice; a refund that does not fit reserves nothing.
2. Refund at the processor under that same reference (it deduplicates, so a retry refunds once).
3. Settle in the transaction that records the answer: pending -> refunded, refund item written.
   If the processor refused for good, the reservation is given back in that transaction instead.
   If the outcome is unknown, the key is released keeping its reference and the reservation stays
   pending: the next retry with the key (or the reconciler, from the key's stored input) resolves it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..domain.payments import PaymentsUnavailable, rfc3339
from ..domain.processor import PaymentProcessor, ProcessorRefund, ProcessorUnavailable, RefundRefused
from ..domain.refunds import (
    MAX_REFUNDS_PER_PAYMENT,
    GiveBackRefund,
    PaymentBusy,
    PaymentDeclined,
    PaymentNotFound,
    PaymentNotSucceeded,
    RecordRefund,
    RefundBalances,
    RefundConflict,
    RefundExceedsPayment,
    RefundsUnavailable,
    Reservation,
    ReservationRefused,
    SettleRefund,
    TooManyRefunds,
    refund_id_for,
)
from ..domain.stored_payments import DeclinedPayment, Payment, StoredPayment
from ..domain.stored_refunds import RefundReason, StoredRefund
from ..idempotency import Claim, Completion, IdempotencyEngine, IdempotentRequest, WriteRejected
from ..idempotency.clock import Clock
from ..idempotency.fingerprint import canonical_json
from ..models.refunds import CreateRefundRequest, RecordedRefund
from .create_payment import FIRST_FOLLOW_UP_MS

OPERATION = "refunds.create"
# Refunds without an amount take "all that remains"; if others keep winning the race for it this many
# times in a row, the client is told to retry rather than held here.
MAX_RESERVE_ATTEMPTS = 5


@dataclass(frozen=True)
class RefundResult:
    recorded: RecordedRefund
    replayed: bool

    @property
    def outcome(self) -> str:
        return "replayed" if self.replayed else f"refund_{self.recorded.outcome}"


def idempotent_request(merchant: str, key: str, payment_id: str, request: CreateRefundRequest) -> IdempotentRequest:
    """Keys are scoped per merchant as for payments; the payment id is part of what the key stands for."""
    payload = canonical_json({"payment_id": payment_id, **request.model_dump(mode="json")})
    return IdempotentRequest(scope=merchant, key=key, operation=OPERATION, payload=payload)


def request_from_payload(payload: str) -> tuple[str, CreateRefundRequest]:
    """The payment id and the request as stored with the key at claim (ValueError if they no longer validate)."""
    fields = json.loads(payload)
    payment_id = fields.pop("payment_id")
    if not isinstance(payment_id, str):
        raise ValueError("stored payment_id is not a string")
    return payment_id, CreateRefundRequest.model_validate(fields)


def refunded(
    payment: StoredPayment,
    reason: RefundReason | None,
    reference: str,
    amount: int,
    made: ProcessorRefund,
    *,
    created_at_ms: int,
) -> Completion:
    """What a refund the processor made completes with: the reservation settled, the refund item and its 201,
    in one commit. The one builder, for the request itself and for a recovery finishing it later: same
    refund id (from the reference), the processor's refund status."""
    refund = StoredRefund(
        id=refund_id_for(reference),
        payment_id=payment.id,
        merchant_id=payment.merchant_id,
        amount=amount,
        currency=payment.currency,
        status=made.status,
        reason=reason,
        created_at=rfc3339(created_at_ms),
        processor_refund_id=made.id,
        reference=reference,
        # Pending: the reconciler asks the processor about it if no event tells us first.
        next_check_ms=created_at_ms + FIRST_FOLLOW_UP_MS if made.status == "pending" else None,
    )
    recorded = RecordedRefund(outcome="created", payment_id=payment.id, refund_id=refund.id, body=refund.public_json())
    settle = (SettleRefund(payment.id, reference, amount), RecordRefund(refund))
    # Refunded: if the settlement is refused, keep the reference (release) so a retry refunds no more.
    return Completion(recorded.to_record(), writes=settle, if_rejected="release")


def refund_refused(payment_id: str, reference: str, amount: int, code: str) -> Completion:
    """What a refund the processor refused for good completes with: the reservation given back, the refusal
    recorded (replayed to every retry)."""
    recorded = RecordedRefund(outcome="refused", payment_id=payment_id, refusal_code=code)
    give_back = GiveBackRefund(payment_id, reference, amount)
    return Completion(recorded.to_record(), writes=(give_back,), if_rejected="release")


def refund_at_processor(
    processor: PaymentProcessor,
    payment: StoredPayment,
    reference: str,
    amount: int,
    timeout_s: float | None = None,
) -> ProcessorRefund:
    """The one processor call of a refund, for the request and its recovery: the same parameters under the
    same reference (the processor refuses a reference re-sent with others)."""
    return processor.refund(
        reference=reference,
        charge_id=payment.processor_payment_id,
        amount=amount,
        currency=payment.currency,
        payment_id=payment.id,  # travels with the refund, so the processor's events about it find it
        timeout_s=timeout_s,
    )


def payment_to_refund(balances: RefundBalances, merchant: str, payment_id: str) -> StoredPayment:
    """The merchant's charged payment; PaymentNotFound or PaymentDeclined (final: nothing to refund)."""
    payment = balances.get(payment_id)
    if payment is None or payment.merchant_id != merchant:
        raise PaymentNotFound(payment_id)
    if isinstance(payment, DeclinedPayment):
        raise PaymentDeclined(payment_id)
    if payment.state != "succeeded":  # awaiting its customer, failed or canceled: nothing charged (yet)
        raise PaymentNotSucceeded(payment_id)
    return payment


class CreateRefund:
    def __init__(
        self,
        engine: IdempotencyEngine,
        balances: RefundBalances,
        processor: PaymentProcessor,
        clock: Clock,
        commit_reserve_ms: int = 4_700,
    ) -> None:
        """commit_reserve_ms: time kept, after the processor call, to record its result (as for a charge)."""
        self._engine = engine
        self._balances = balances
        self._processor = processor
        self._clock = clock
        self._commit_reserve_ms = commit_reserve_ms

    def __call__(
        self,
        merchant: str,
        key: str,
        payment_id: str,
        request: CreateRefundRequest,
        remaining_ms: int | None = None,
    ) -> RefundResult:
        """Raises PaymentNotFound, PaymentDeclined, RefundExceedsPayment, TooManyRefunds, PaymentBusy,
        RefundConflict, KeyInUse, KeyReused, TemporarilyUnavailable."""
        # The same budget as a charge (finding 18.2): the processor call ends in time to record its result.
        deadline_ms = None if remaining_ms is None else self._clock.now_ms() + remaining_ms - self._commit_reserve_ms

        def refund_once(claim: Claim) -> Completion:
            payment = payment_to_refund(self._balances, merchant, payment_id)
            amount = payment.reserved_under(claim.reference)  # by an earlier try of this key (even a closed one)
            if amount is None:
                amount = self._reserve(merchant, payment, claim, request.amount)
            try:
                timeout_s = None if deadline_ms is None else (deadline_ms - self._clock.now_ms()) / 1000
                made = refund_at_processor(self._processor, payment, claim.reference, amount, timeout_s)
            except RefundRefused as refused:
                return refund_refused(payment_id, claim.reference, amount, refused.code)
            return refunded(payment, request.reason, claim.reference, amount, made, created_at_ms=self._clock.now_ms())

        if not Payment.ID_PATTERN.match(payment_id):
            raise PaymentNotFound(payment_id)
        try:
            outcome = self._engine.run(
                idempotent_request(merchant, key, payment_id, request),
                refund_once,
                remaining_ms=remaining_ms,
                # Nothing reserved and nothing refunded: the key is forgotten, so a retry is evaluated afresh.
                forget_on=(PaymentNotFound, PaymentDeclined, RefundExceedsPayment, TooManyRefunds, PaymentBusy),
                # Unknown outcome: the key keeps its reference and any reservation stays until a retry.
                retry_on=(ProcessorUnavailable, RefundsUnavailable, PaymentsUnavailable),
            )
        except WriteRejected as rejected:
            raise RefundConflict("the refund's reservation is no longer held") from rejected
        return RefundResult(RecordedRefund.from_record(outcome.result), outcome.replayed)

    def _reserve(self, merchant: str, payment: StoredPayment, claim: Claim, requested: int | None) -> int:
        """Reserve `requested` (or all that is available) under the claim's reference; returns the amount.

        The read only proposes an amount; the conditional write decides. When it refuses, the item it
        returns says why: our own reservation (an earlier answer was lost), or less available than asked."""
        current = payment
        for _ in range(MAX_RESERVE_ATTEMPTS):
            if len(current.reservations) + len(current.closed_reservations) >= MAX_REFUNDS_PER_PAYMENT:
                raise TooManyRefunds(payment.id)
            amount = requested if requested is not None else current.amount_available
            if amount <= 0 or amount > current.amount_available:
                raise RefundExceedsPayment(max(current.amount_available, 0))
            try:
                self._balances.reserve(current, Reservation(payment.id, claim.reference, claim.record_id, amount))
            except ReservationRefused as refused:
                now = refused.current
                if now is None or now.merchant_id != merchant:
                    raise PaymentNotFound(payment.id) from None
                if (ours := now.reserved_under(claim.reference)) is not None:
                    return ours  # an earlier try's (or the SDK resent ours after losing its answer)
                current = now
                continue
            return amount
        raise PaymentBusy(payment.id)
