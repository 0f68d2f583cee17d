"""Finish what an ambiguous failure left unknown, without waiting for the client to retry.

A key is unresolved when its outcome at the processor is unknown: released after a failure, or in
progress with its holder gone. For each one old enough (a processor whose lookup is eventually
consistent only answers "not charged" reliably for older references), the key is taken over as a
retry would, the processor is asked about the reference, and:
  charged      -> completed exactly as the original request would have: the same payment id, the
                  payment and its recorded 201 in one commit, so a later retry replays it;
  not charged  -> left released, out of the index: a retry takes it over under the same reference
                  (so a charge landing late at the processor is deduplicated there, never doubled);
  unknown      -> given back for the next run.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from ..domain.processor import Charged, NotCharged, PaymentProcessor
from ..idempotency import Claim, Completion, IdempotencyEngine, IdempotencyRecord, Recovery, Verdict
from ..idempotency.clock import Clock
from ..idempotency.errors import TemporarilyUnavailable
from ..idempotency.store import WriteRejected
from .create_payment import OPERATION, charged, request_from_payload

ONE_HOUR_MS = 3_600_000
COUNT_CAP = 10_000  # the alarm needs "how many, up to a lot", not an exact figure at any cost
STOP_BEFORE_END_MS = 5_000  # a run stops taking keys when its invocation has less than this left

# What each key ended as, for metrics: the recovery's result in the processor's terms.
RESULT_NAMES = {
    Recovery.COMPLETED: "charged",
    Recovery.NOT_DONE: "not_charged",
    Recovery.STILL_UNKNOWN: "still_unknown",
    Recovery.SKIPPED: "skipped",
}
RESULTS = (*RESULT_NAMES.values(), "failed")


@dataclass(frozen=True)
class ReconcileReport:
    results: Counter[str] = field(default_factory=Counter)
    unresolved_older_than_an_hour: int = 0  # still unknown after this run: the alarm's figure
    more_waiting: bool = False  # the run stopped at its bound with keys left for the next one


class Reconcile:
    def __init__(
        self,
        engine: IdempotencyEngine,
        processor: PaymentProcessor,
        clock: Clock,
        *,
        min_age_seconds: int,
        max_keys_per_run: int,
    ) -> None:
        self._engine = engine
        self._processor = processor
        self._clock = clock
        self._min_age_ms = min_age_seconds * 1000
        self._max_keys = max_keys_per_run

    def __call__(self, remaining_ms: int | None = None) -> ReconcileReport:
        """One bounded run: at most max_keys_per_run keys, stopping early when the invocation runs short."""
        started = time.monotonic()
        due = self._engine.unresolved(self._min_age_ms, self._max_keys + 1)
        report = ReconcileReport(more_waiting=len(due) > self._max_keys)
        for record_id in due[: self._max_keys]:
            spent_ms = (time.monotonic() - started) * 1000
            if remaining_ms is not None and remaining_ms - spent_ms < STOP_BEFORE_END_MS:
                return ReconcileReport(report.results, self._older_than_an_hour(), more_waiting=True)
            report.results[self.key(record_id, remaining_ms)] += 1
        return ReconcileReport(report.results, self._older_than_an_hour(), report.more_waiting)

    def key(self, record_id: str, remaining_ms: int | None = None) -> str:
        """Reconcile one key now, whatever its age (also the operator's `payments-admin key reconcile`)."""
        try:
            return RESULT_NAMES[self._engine.recover(record_id, self._finish, remaining_ms=remaining_ms)]
        except (TemporarilyUnavailable, WriteRejected):
            # The store failed (the key is given back or its short lease lapses), or a payment with this
            # reference exists without a recorded answer: either way the next run looks again.
            return "failed"

    def _older_than_an_hour(self) -> int:
        return self._engine.count_unresolved(max(ONE_HOUR_MS, self._min_age_ms), COUNT_CAP)

    def _finish(self, record: IdempotencyRecord, claim: Claim) -> Completion | Verdict:
        if record.operation != OPERATION or not record.scope or not record.payload:
            return Verdict.UNKNOWN  # not a payment this code can finish (or claimed before scopes were stored)
        found = self._processor.find(claim.reference)
        if isinstance(found, Charged):
            request = request_from_payload(record.payload)
            return charged(record.scope, request, claim.reference, found.charge, self._clock.now_ms())
        if isinstance(found, NotCharged):
            return Verdict.NOT_DONE
        return Verdict.UNKNOWN
