"""The reconciler's second job: ask the processor about what is still moving, in case an event was lost.

A payment awaiting its customer (3-D Secure) is looked at 15 minutes after it was recorded, then less
and less often; once it has waited longer than the abandon age (24 h by default), its charge is
canceled at the processor so that nothing stays open there, and it is recorded canceled (or succeeded,
if the customer finished just in time: the processor's answer decides). A refund the processor has not
finished (pending) is followed the same way until it succeeds or fails, a failed one given back
exactly once. Every item is isolated: one that fails is counted and left for the next run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from ..domain.lifecycle import FollowUp, PaymentState, PaymentStates, RefundStates
from ..domain.processor import PaymentProcessor
from ..domain.refunds import RefundsRepository
from ..idempotency.clock import Clock
from .apply_processor_event import apply_refund_status

MIN_RECHECK_MS = 15 * 60 * 1000
MAX_RECHECK_MS = 6 * 3600 * 1000
STOP_BEFORE_END_MS = 5_000
PROCESSOR_CALL_S = 10.0
FOLLOW_UP_RESULTS = (
    "payments_succeeded",
    "payments_failed",
    "payments_canceled",
    "payments_unchanged",
    "refunds_succeeded",
    "refunds_failed",
    "refunds_canceled",
    "refunds_unchanged",
    "failed",
)
_NEWS: dict[str, PaymentState] = {"succeeded": "succeeded", "failed": "failed", "canceled": "canceled"}


def recheck_delay_ms(age_ms: int) -> int:
    """How long until the next look: as long as it has waited so far, within [15 min, 6 h]."""
    return min(max(age_ms, MIN_RECHECK_MS), MAX_RECHECK_MS)


class FollowUpWithProcessor:
    def __init__(
        self,
        processor: PaymentProcessor,
        payments: PaymentStates,
        refunds: RefundsRepository,
        refund_states: RefundStates,
        clock: Clock,
        *,
        abandon_after_seconds: int,
        max_items_per_run: int,
    ) -> None:
        self._processor = processor
        self._payments = payments
        self._refunds = refunds
        self._refund_states = refund_states
        self._clock = clock
        self._abandon_after_ms = abandon_after_seconds * 1000
        self._max_items = max_items_per_run

    def __call__(self, remaining_ms: int | None = None) -> Counter[str]:
        """One bounded run; counts per result: payments_<state>, refunds_<status>, *_unchanged, failed."""
        started = time.monotonic()
        results: Counter[str] = Counter()

        def time_left_s() -> float | None:
            if remaining_ms is None:
                return None
            return (remaining_ms - (time.monotonic() - started) * 1000 - STOP_BEFORE_END_MS) / 1000

        now = self._clock.now_ms()
        jobs: list[tuple[FollowUp, Callable[[FollowUp, int, float], str]]] = [
            *((item, self._payment) for item in self._payments.awaiting(now, self._max_items)),
            *((item, self._refund) for item in self._refund_states.pending(now, self._max_items)),
        ]
        for item, follow in jobs:
            left = time_left_s()
            if left is not None and left < 1:
                break
            try:
                results[follow(item, now, min(PROCESSOR_CALL_S, left or PROCESSOR_CALL_S))] += 1
            except Exception:  # one item never stops the run: it is looked at again next time
                results["failed"] += 1
        return results

    def _payment(self, item: FollowUp, now: int, timeout_s: float) -> str:
        age = now - item.since_ms
        if age >= self._abandon_after_ms:
            state = self._processor.cancel(item.processor_id, timeout_s=timeout_s)
        else:
            state = self._processor.charge_state(item.processor_id, timeout_s=timeout_s)
        news = _NEWS.get(state.status)
        if news is not None and self._payments.move(item.item_id, news, decline_code=state.decline_code):
            return f"payments_{news}"
        self._payments.check_later(item.item_id, now + recheck_delay_ms(age))
        return "payments_unchanged"

    def _refund(self, item: FollowUp, now: int, timeout_s: float) -> str:
        refund = self._refunds.get(item.parent_id, item.item_id)
        if refund is None:
            return "refunds_unchanged"
        state = self._processor.refund_state(item.processor_id, timeout_s=timeout_s)
        if apply_refund_status(self._refund_states, refund, state.status, state.failure_reason) == "applied":
            return f"refunds_{state.status}"
        self._refund_states.check_later(refund, now + recheck_delay_ms(now - item.since_ms))
        return "refunds_unchanged"
