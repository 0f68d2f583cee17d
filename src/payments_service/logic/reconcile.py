"""Finish what an ambiguous failure left unknown, without waiting for the client to retry.

A key is unresolved when its outcome at the processor is unknown: released after a failure, or in
progress with its holder gone. For each one in line long enough, the key is taken over as a retry
would, and the finisher of its operation asks the processor about the key's reference:
  payments.create (below)  charged -> completed exactly as the original request would have (same payment
                           id, same recorded 201); not charged -> left released, out of the index: a
                           retry takes it over under the same reference; unknown -> given back;
  refunds.create (recover_refund.py)  refunded, retried under the same reference, or ended cleanly when
                           refused for good.
A key still unknown goes to the back of the line (ordered by when it was last looked at, its age kept
for operators) and, after max_attempts, is parked out of the line with its own metric; an operator's
`payments-admin key reconcile` or a client's retry still resolves it. Any failure on one key is counted
and the run moves on.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ..domain.processor import Charged, NotCharged, PaymentProcessor
from ..domain.refunds import RefundBalances
from ..idempotency import Claim, Completion, IdempotencyEngine, IdempotencyRecord, Recovery, Verdict
from ..idempotency.clock import Clock
from . import create_payment, create_refund
from .recover_refund import RecoverRefund

# A finisher: the key's completion or verdict, and what the run counts it as. Its third argument bounds its
# processor calls (seconds, None: no bound), so that one key's lookup cannot outrun the invocation.
Finisher = Callable[[IdempotencyRecord, Claim, float | None], tuple[Completion | Verdict, str]]

ONE_HOUR_MS = 3_600_000
COUNT_CAP = 10_000  # the alarm needs "how many, up to a lot", not an exact figure at any cost
STOP_BEFORE_END_MS = 5_000  # a run stops taking keys when its invocation has less than this left

# What each key ended as, for metrics, in the processor's terms. "refused": a final business refusal
# ended the key; "parked": still unknown at its last allowed attempt; "failed": an error on this key.
RESULTS = (
    "charged",
    "not_charged",
    "refunded",
    "not_refunded",
    "refused",
    "still_unknown",
    "parked",
    "skipped",
    "failed",
)
# The engine's own answers, whatever the finisher said.
_ENGINE_RESULTS = {Recovery.SKIPPED: "skipped", Recovery.PARKED: "parked", Recovery.STILL_UNKNOWN: "still_unknown"}


@dataclass(frozen=True)
class KeyFailure:
    record_id: str  # a hash of merchant and key: safe to log
    error: str  # the exception's class name only (a message may carry a secret or card data)


@dataclass(frozen=True)
class ReconcileReport:
    results: Counter[str] = field(default_factory=Counter)
    # The alarm's figure: keys this run looked at and left unknown that are an hour old or more, plus keys
    # waiting in line, not looked at, for an hour (the index orders by last look; the age is on the item).
    unresolved_older_than_an_hour: int = 0
    parked: int = 0  # keys parked now (not only this run's): the ReconcileParked alarm's figure
    more_waiting: bool = False  # the run stopped at its bound with keys left for the next one
    failures: tuple[KeyFailure, ...] = ()  # for the handler's log


class Reconcile:
    def __init__(
        self,
        engine: IdempotencyEngine,
        processor: PaymentProcessor,
        clock: Clock,
        balances: RefundBalances,
        *,
        min_age_seconds: int,
        max_keys_per_run: int,
        max_attempts: int | None = None,
    ) -> None:
        """max_attempts: looks at a key that stays unknown before it is parked (None: never parked)."""
        self._engine = engine
        self._processor = processor
        self._clock = clock
        self._min_age_ms = min_age_seconds * 1000
        self._max_keys = max_keys_per_run
        self._max_attempts = max_attempts
        self._finishers: dict[str, Finisher] = {
            create_payment.OPERATION: self._finish_payment,
            create_refund.OPERATION: RecoverRefund(balances, processor, clock),
        }

    def __call__(self, remaining_ms: int | None = None) -> ReconcileReport:
        """One bounded run: at most max_keys_per_run keys, stopping early when the invocation runs short.
        Never raises: a failure (of a key, or of the run's own queries) is counted as "failed"."""
        started = time.monotonic()
        results: Counter[str] = Counter()
        failures: list[KeyFailure] = []
        try:
            due = self._engine.unresolved(self._min_age_ms, self._max_keys + 1)
        except Exception as error:  # the index could not be read: counted, and the next run tries again
            due = []
            results["failed"] += 1
            failures.append(KeyFailure("-", type(error).__name__))
        more_waiting = len(due) > self._max_keys
        looked_at_and_old = 0
        for record_id in due[: self._max_keys]:
            spent_ms = (time.monotonic() - started) * 1000
            if remaining_ms is not None and remaining_ms - spent_ms < STOP_BEFORE_END_MS:
                more_waiting = True
                break
            left_ms = None if remaining_ms is None else int(remaining_ms - spent_ms)
            name, old = self._one(record_id, left_ms, failures)
            results[name] += 1
            looked_at_and_old += old
        waiting, parked = self._counts(results, failures)
        return ReconcileReport(results, looked_at_and_old + waiting, parked, more_waiting, tuple(failures))

    def key(self, record_id: str, remaining_ms: int | None = None) -> str:
        """Reconcile one key now, whatever its age or attempts, parked too (the operator's
        `payments-admin key reconcile`). Raises what the key's recovery raised."""
        return self._key(record_id, remaining_ms, [])

    def _key(self, record_id: str, remaining_ms: int | None, ages: list[int | None]) -> str:
        named: list[str] = []
        # The processor may be asked until shortly before the invocation ends; the rest is for the commit.
        ends = None if remaining_ms is None else time.monotonic() + (remaining_ms - STOP_BEFORE_END_MS) / 1000

        def finish(record: IdempotencyRecord, claim: Claim) -> Completion | Verdict:
            ages.append(record.unknown_since_ms)
            finisher = self._finishers.get(record.operation)
            if finisher is None or not record.scope or not record.payload:
                named.append("still_unknown")
                return Verdict.UNKNOWN  # not an operation this code can finish (or claimed before scopes were stored)
            verdict, name = finisher(record, claim, None if ends is None else max(0.0, ends - time.monotonic()))
            named.append(name)
            return verdict

        recovery = self._engine.recover(record_id, finish, remaining_ms=remaining_ms, max_attempts=self._max_attempts)
        return _ENGINE_RESULTS.get(recovery) or (named[-1] if named else "skipped")

    def _one(self, record_id: str, remaining_ms: int | None, failures: list[KeyFailure]) -> tuple[str, bool]:
        """One key of a run, isolated: whatever it raises (the store, the processor's secret, a stored payload
        that no longer validates, a payment recorded without its answer) is counted and the run moves on;
        the key was given back, or its short lease lapses, and goes to the back of the line. Also: is it
        still unresolved after an hour or more (the alarm's figure)?"""
        ages: list[int | None] = []
        try:
            name = self._key(record_id, remaining_ms, ages)
        except Exception as error:
            failures.append(KeyFailure(record_id, type(error).__name__))
            name = "failed"
        since = ages[0] if ages else None
        old = since is not None and since <= self._clock.now_ms() - ONE_HOUR_MS
        return name, old and name in ("still_unknown", "failed")

    def _counts(self, results: Counter[str], failures: list[KeyFailure]) -> tuple[int, int]:
        try:
            older = self._engine.count_unresolved(max(ONE_HOUR_MS, self._min_age_ms), COUNT_CAP)
            return older, self._engine.count_parked(COUNT_CAP)
        except Exception as error:
            results["failed"] += 1
            failures.append(KeyFailure("-", type(error).__name__))
            return 0, 0

    def _finish_payment(
        self, record: IdempotencyRecord, claim: Claim, timeout_s: float | None
    ) -> tuple[Completion | Verdict, str]:
        found = self._processor.find(claim.reference, not_before_ms=record.reference_created_at_ms, timeout_s=timeout_s)
        if isinstance(found, Charged):
            request = create_payment.request_from_payload(record.payload)
            # The request's time, not this run's: the payment was made when its reference was minted.
            created_ms = record.reference_created_at_ms or self._clock.now_ms()
            return create_payment.charged(record.scope, request, claim.reference, found.charge, created_ms), "charged"
        if isinstance(found, NotCharged):
            return Verdict.NOT_DONE, "not_charged"
        return Verdict.UNKNOWN, "still_unknown"
