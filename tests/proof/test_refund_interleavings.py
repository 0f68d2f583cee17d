"""Random interleavings of payments, refunds, retries, crashes and time: refunds never exceed the payment.

A hypothesis state machine drives the real handler against the session's embedded DynamoDB. After
every step, for every payment: refunded + pending + available == amount and refunded <= amount; the
refund items add up to `refunded`; every refund the processor made is either recorded or still
reserved (pending), and all of them together never exceed the amount; once a refund key has been
answered 201, every later answer for it is the same bytes. At the end every request is retried
until answered, as a client would: then nothing is pending, and the processor and the tables agree.
HYPOTHESIS_PROFILE=long runs it longer.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import HealthCheck
from hypothesis import event as note_event
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tests.proof.injection import Boundary, RefundBoundary
from tests.proof.oracle import Answer
from tests.proof.refunds_once import answered, assert_balanced, balance, failure, processor_refunds, refund_items
from tests.proof.rig import Rig, build_rig
from tests.support import FakeClock, payment_event, refund_event, unique, visa

AMOUNTS = st.sampled_from([1_000, 2_500])
REFUNDS = st.one_of(st.none(), st.integers(1, 1_200))  # None: all that remains
BOUNDARIES = [RefundBoundary.AFTER_RESERVE, RefundBoundary.AFTER_REFUND, Boundary.BEFORE_COMMIT, Boundary.AFTER_COMMIT]
LONGEST_MS = 20_000  # the lease of every invocation here (the fake Lambda context's remaining time)


@dataclass
class Context:
    db: Any
    settings: Any
    workdir: Path


class RefundInterleavings(RuleBasedStateMachine):
    context: ClassVar[Context]

    def __init__(self) -> None:
        super().__init__()
        ctx = self.context
        self.rig: Rig = build_rig(
            ctx.settings, ctx.db, ctx.workdir / f"{uuid.uuid4().hex}.jsonl", clock=FakeClock(time.time_ns() // 10**6)
        )
        self.merchant = f"arn:aws:iam::111111111111:user/{unique('sm')}"
        self.payments: list[tuple[str, int]] = []
        self.requests: list[dict[str, Any]] = []  # every refund request sent, for retries
        self.created: dict[str, Answer] = {}  # key -> its 201 answer

    def teardown(self) -> None:
        from payments_service import bootstrap

        try:
            # A client retries whatever it was not answered, obeying Retry-After: then nothing is left pending.
            for event in self.requests:
                self.rig.plan.disarm()
                answer = answered(self.rig, event)
                self._observe(event, answer)
            for payment_id, _ in self.payments:
                assert_balanced(self.rig, payment_id)
        finally:
            bootstrap.use(None)

    # ---- requests -------------------------------------------------------------------------------

    @initialize(amount=AMOUNTS)
    def first_payment(self, amount: int) -> None:
        self.create_payment(amount)

    @rule(amount=AMOUNTS)
    def create_payment(self, amount: int) -> None:
        created = self.rig.call(payment_event(unique("k"), visa(amount), merchant=self.merchant))
        assert created.status == 201, created
        self.payments.append((created.payment_id, amount))

    @rule(which=st.integers(0, 9), amount=REFUNDS)
    def refund(self, which: int, amount: int | None) -> None:
        event = self._new_refund(which, amount)
        answer = self.rig.call(event)
        assert answer.status in (201, 409), answer  # no fault injected: created, or too much
        self._observe(event, answer)

    @rule(
        which=st.integers(0, 9), amount=REFUNDS, at=st.sampled_from(BOUNDARIES), how=st.sampled_from(["crash", "lost"])
    )
    def refund_that_dies(self, which: int, amount: int | None, at: Boundary | RefundBoundary, how: str) -> None:
        event = self._new_refund(which, amount)
        self.rig.plan.arm(at, failure(at, how))
        answer = self.rig.call(event)
        fired = bool(self.rig.plan.fired) and self.rig.plan.fired[-1] is at
        self.rig.plan.disarm()
        self.rig.plan.fired.clear()
        note_event(f"died {at} ({how})" if fired else "boundary not reached")
        if not fired:
            assert answer.status in (201, 409), answer
        self._observe(event, answer)

    @rule(index=st.integers(0, 1_000))
    def retry(self, index: int) -> None:
        if not self.requests:
            return
        event = self.requests[index % len(self.requests)]
        answer = self.rig.call(event)
        assert answer.status in (201, 409, 503), answer  # 503: the retry found a crashed one's work unfinished
        self._observe(event, answer)

    @rule()
    def every_lease_passes(self) -> None:
        self.rig.clock.advance(LONGEST_MS + 1)

    # ---- invariants -----------------------------------------------------------------------------

    @invariant()
    def refunds_never_exceed_the_payment(self) -> None:
        for payment_id, amount in self.payments:
            item, stored = balance(self.rig, payment_id)
            available = int(item["available"]["N"])
            assert stored.amount_refunded + stored.amount_pending + available == amount, item
            assert 0 <= stored.amount_refunded <= amount and stored.amount_pending >= 0 and available >= 0
            assert sum(stored.reservations.values()) == stored.amount_pending
            refunds = refund_items(self.rig, payment_id)
            assert sum(r.amount for r in refunds) == stored.amount_refunded
            at_processor = processor_refunds(self.rig, stored.processor_payment_id)
            recorded = {r.reference: r.amount for r in refunds}
            assert len(recorded) == len(refunds), "two refund items under one reference"
            for reference, refunded in at_processor.items():
                # Every processor refund is recorded, or still reserved under its reference for a retry to settle.
                assert recorded.get(reference, stored.reservations.get(reference)) == refunded, reference
            assert sum(at_processor.values()) <= amount, "the processor refunded more than was charged"

    # ---- helpers --------------------------------------------------------------------------------

    def _new_refund(self, which: int, amount: int | None) -> dict[str, Any]:
        payment_id, _ = self.payments[which % len(self.payments)]
        body = {} if amount is None else {"amount": amount}
        event = refund_event(payment_id, unique("r"), body, merchant=self.merchant)
        self.requests.append(event)
        return event

    def _observe(self, event: dict[str, Any], answer: Answer) -> None:
        key = event["headers"]["Idempotency-Key"]
        if answer.status == 201:
            first = self.created.setdefault(key, answer)
            assert answer.same_bytes(first), (answer, first)
            if answer is not first:
                assert answer.replayed
        elif answer.status == 409:
            problem = json.loads(answer.body)
            assert problem["type"].rsplit(":", 1)[1] in ("refund-exceeds-payment", "idempotency-key-in-use"), problem
            assert key not in self.created, ("a completed refund answered otherwise", answer)


def _settings() -> hypothesis_settings:
    long = os.environ.get("HYPOTHESIS_PROFILE") == "long"
    return hypothesis_settings(
        max_examples=200 if long else 12,
        stateful_step_count=40 if long else 15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        print_blob=True,
    )


def test_random_interleavings_of_refunds_retries_crashes_and_time_never_refund_beyond_the_payment(
    dynamodb: Any, settings: Any, tmp_path: Path
) -> None:
    RefundInterleavings.context = Context(dynamodb.client, settings, tmp_path)
    run_state_machine_as_test(RefundInterleavings, settings=_settings())
