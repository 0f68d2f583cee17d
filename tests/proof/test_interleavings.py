"""Random interleavings of sends, retries, body changes, crashes and time, checked against a model.

A hypothesis state machine drives the real handler against the session's embedded DynamoDB
(fresh tables from template.yaml and fresh merchants per example). After every step:
- at most one payment, and one processor reference charged, per merchant-scoped key per retention period;
- once a key has completed, every answer for it is the same bytes, until retention passes;
- a different body under a live key is always 422;
- no 5xx except right after an injected fault, and no key IN_PROGRESS beyond its invocation's time.
Profiles (tests/proof/conftest.py): "ci" by default, HYPOTHESIS_PROFILE=long for a long run.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import event as note_event
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from local.tables import create_tables
from payments_service.dal.idempotency_table import from_item
from payments_service.idempotency.keys import record_id
from payments_service.idempotency.records import Status
from tests.proof.injection import Boundary, Kind
from tests.proof.oracle import Answer, key_record
from tests.proof.rig import Rig, build_rig
from tests.support import FakeClock, payment_event, recorded_body, unique

MERCHANTS, KEYS = 2, 3
# Request bodies: two payments that differ by amount, and one the processor declines (committed alone).
VARIANTS = [(1000, "tok_visa"), (2000, "tok_visa"), (3000, "tok_chargeDeclined")]
FRESH_STATUS = [201, 201, 402]
# What an invocation's Lambda context reports as time left: its lease may not outlive it. It sets
# the lease length (and, in real time, the DynamoDB budget: under
# about 3.7 s no call is started, see dal/deadline.py; test_deadline covers that).
# Short leases, yet wall-clock room for the DynamoDB time budget (dal/deadline.py) on a loaded machine.
REMAINING = st.sampled_from([6_000, 8_000, 20_000])
LONGEST_MS = 20_000
# Past the decision (a sequential completion's middle, or the commit) the outcome is fixed.
DECIDED = (Boundary.MID_COMMIT, Boundary.AFTER_A_WRITE, Boundary.AFTER_COMMIT)


@dataclass
class KeyModel:
    """What the client may expect of one merchant-scoped key in the current retention period."""

    body: int | None = None  # the variant the live record was created with
    answer: Answer | None = None  # the completed answer, replayed byte for byte
    committed_unseen: bool = False  # a crashed invocation committed; the next answer reveals it
    lease_until: int | None = None  # a crashed invocation's lease, as DynamoDB holds it


@dataclass
class Context:
    db: Any
    settings: Any
    workdir: Path
    replay_cache_size: int = 0


def _epoch_ms(rfc3339: str) -> int:
    return round(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000)


class Interleavings(RuleBasedStateMachine):
    context: ClassVar[Context]

    def __init__(self) -> None:
        super().__init__()
        ctx = self.context
        self.tables = create_tables(ctx.db, prefix=unique("proof"))
        settings = ctx.settings.model_copy(
            update={
                "idempotency_table": self.tables["IdempotencyTable"],
                "payments_table": self.tables["PaymentsTable"],
                "replay_cache_size": ctx.replay_cache_size,
            }
        )
        clock = FakeClock(time.time_ns() // 1_000_000)
        self.rig: Rig = build_rig(settings, ctx.db, ctx.workdir / f"{uuid.uuid4().hex}.jsonl", clock=clock)
        self.merchants = [f"arn:aws:iam::111111111111:user/{unique(f'm{i}')}" for i in range(MERCHANTS)]
        self.keys = [unique(f"k{i}") for i in range(KEYS)]
        self.model: dict[tuple[int, int], KeyModel] = {}
        self.epoch_starts = [clock.now_ms()]  # a new retention period begins at each
        self.charges: list[tuple[str, int]] = []  # (reference, epoch) of every charge, in order
        self.deadlines: dict[tuple[int, int], int] = {}  # the latest any invocation on a key could live

    def teardown(self) -> None:
        from payments_service import bootstrap

        bootstrap.use(None)
        for table in self.tables.values():
            self.context.db.delete_table(TableName=table)

    # ---- requests -------------------------------------------------------------------------------

    def _body(self, key: int, variant: int) -> dict[str, Any]:
        amount, source = VARIANTS[variant]
        return {"amount": amount, "currency": "USD", "source": source, "metadata": {"k": str(key)}}

    def _send(self, m: int, k: int, variant: int, remaining_ms: int) -> Answer:
        event = payment_event(self.keys[k], self._body(k, variant), merchant=self.merchants[m])
        deadline = self.rig.clock.now_ms() + remaining_ms
        self.deadlines[(m, k)] = max(self.deadlines.get((m, k), deadline), deadline)
        answer = self.rig.call(event, remaining_ms)
        note_event(f"answer {answer.status}{' replayed' if answer.replayed else ''}")  # --hypothesis-show-statistics
        epoch = len(self.epoch_starts) - 1
        for entry in self.rig.ledger.entries()[len(self.charges) :]:
            self.charges.append((entry["reference"], epoch))
        return answer

    def _expect(self, m: int, k: int, variant: int, answer: Answer) -> None:
        """Check a non-faulted answer against the model, then learn from it."""
        km = self.model.setdefault((m, k), KeyModel())
        now = self.rig.clock.now_ms()
        if km.body is not None and variant != km.body:
            assert answer.status == 422, ("another body under a live key", answer)
            return
        if km.answer is not None:
            assert answer.replayed and answer.same_bytes(km.answer), ("replay differs", answer, km.answer)
            return
        if km.committed_unseen:
            assert answer.status == FRESH_STATUS[variant] and answer.replayed, ("a crash committed this key", answer)
            self._learn_completed(m, k, variant, answer)
            return
        # F3 (test_fault_matrix): at exactly the lease's end the service still answers 409, hence <=.
        if km.lease_until is not None and now <= km.lease_until:
            assert answer.status == 409, ("a crashed invocation's lease still runs", answer)
            assert answer.retry_after <= max(1, math.ceil((km.lease_until - now) / 1000))
            return
        assert answer.status == FRESH_STATUS[variant] and not answer.replayed, ("nothing stands in the way", answer)
        self._learn_completed(m, k, variant, answer)

    def _learn_completed(self, m: int, k: int, variant: int, answer: Answer) -> None:
        km = self.model[(m, k)]
        km.body, km.answer, km.committed_unseen, km.lease_until = variant, answer, False, None
        record = key_record(self.rig.db, self.rig.settings.idempotency_table, self.merchants[m], self.keys[k])
        assert record is not None and record.status is Status.COMPLETED
        assert recorded_body(record) == answer.body, "the answer is the one recorded for replay"

    @rule(
        m=st.integers(0, MERCHANTS - 1),
        k=st.integers(0, KEYS - 1),
        variant=st.integers(0, len(VARIANTS) - 1),
        remaining=REMAINING,
    )
    def send(self, m: int, k: int, variant: int, remaining: int) -> None:
        self._expect(m, k, variant, self._send(m, k, variant, remaining))

    def _live(self) -> list[tuple[int, int]]:
        return sorted(mk for mk, km in self.model.items() if km.body is not None)

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data(), remaining=REMAINING)
    def retry(self, data: st.DataObject, remaining: int) -> None:
        m, k = data.draw(st.sampled_from(self._live()), label="key")
        variant = self.model[(m, k)].body
        assert variant is not None
        self._expect(m, k, variant, self._send(m, k, variant, remaining))

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data(), remaining=REMAINING)
    def retry_with_another_body(self, data: st.DataObject, remaining: int) -> None:
        m, k = data.draw(st.sampled_from(self._live()), label="key")
        live = self.model[(m, k)].body
        variant = data.draw(st.sampled_from([v for v in range(len(VARIANTS)) if v != live]), label="other body")
        self._expect(m, k, variant, self._send(m, k, variant, remaining))

    @rule(
        m=st.integers(0, MERCHANTS - 1),
        k=st.integers(0, KEYS - 1),
        variant=st.integers(0, len(VARIANTS) - 1),
        boundary=st.sampled_from(list(Boundary)),
        kind=st.sampled_from(list(Kind)),
        remaining=REMAINING,
    )
    def crash(self, m: int, k: int, variant: int, boundary: Boundary, kind: Kind, remaining: int) -> None:
        plan = self.rig.plan
        fired_before = len(plan.fired)
        # A key some earlier request decided and left midway (a sequential completion, maybe from a period past
        # its retention): this request finishes that first, and a fault there is met on someone else's behalf.
        found = key_record(self.rig.db, self.rig.settings.idempotency_table, self.merchants[m], self.keys[k])
        finishing_another = found is not None and found.status is Status.COMPLETING
        # ... and if that decision is from a period past, this request is a new one once it is finished
        finishing_past = finishing_another and found is not None and found.is_expired(self.rig.clock.now_ms())
        plan.arm_exception(boundary, kind)
        try:
            answer = self._send(m, k, variant, remaining)
        finally:
            plan.disarm()
        if len(plan.fired) == fired_before:
            self._expect(m, k, variant, answer)  # the request never crossed the boundary
            return
        note_event(f"fault fired {boundary}/{kind}")
        km = self.model.setdefault((m, k), KeyModel())
        # The only 5xx the client ever sees are these, right after an injected fault.
        if kind is Kind.TRANSIENT and boundary in DECIDED and finishing_past:
            # The fault met either the past decision's finishing (retry later) or, past it, this request's own
            # completion, which recovers its lost answer: its own first answer, never a replay.
            assert answer.status == 503 or (answer.status == FRESH_STATUS[variant] and not answer.replayed), answer
        elif kind is Kind.TRANSIENT and boundary in DECIDED and (km.committed_unseen or finishing_another):
            # It met a completion someone else decided and lost the answer while finishing it: retry later.
            assert answer.status == 503 or (answer.status == FRESH_STATUS[variant] and answer.replayed), answer
        elif kind is Kind.TRANSIENT and boundary in DECIDED:
            # A lost commit answer (or one lost past the decision) is recovered: the invocation's own answer.
            assert answer.status == FRESH_STATUS[variant] and not answer.replayed, answer
        elif kind is Kind.TRANSIENT:
            assert answer.status == 503 and answer.retry_after >= 1, answer
        else:
            assert answer.status == 500, answer
        if answer.status < 500:
            self._learn_completed(m, k, variant, answer)
            return
        record = key_record(self.rig.db, self.rig.settings.idempotency_table, self.merchants[m], self.keys[k])
        assert record is not None, "every boundary is after the claim: the key exists"
        if record.is_expired(self.rig.clock.now_ms()):
            self.model[(m, k)] = KeyModel()  # a past period's decision, finished on the way: the key is new again
            return
        if km.body is None:  # a fault met while finishing another's decision leaves that request's body the key's
            km.body = variant
        km.lease_until = record.lease_expires_at_ms if record.status is Status.IN_PROGRESS else None
        # Decided (a sequential completion's middle) is as good as committed: whoever comes next finishes it.
        km.committed_unseen = record.status in (Status.COMPLETED, Status.COMPLETING)

    # ---- time -----------------------------------------------------------------------------------

    # One rule for time, so passing retention (which starts everything afresh) stays the rare move.
    @rule(
        how=st.sampled_from(["a little", "a little", "a little", "past every lease", "past retention"]),
        ms=st.integers(1, 6_000),
    )
    def time_passes(self, how: str, ms: int) -> None:
        if how == "a little":
            self.rig.clock.advance(ms)
        elif how == "past every lease":
            self.rig.clock.advance(LONGEST_MS + 1)
        else:
            self.rig.clock.advance((self.rig.settings.retention_seconds + 1) * 1000)
            self.epoch_starts.append(self.rig.clock.now_ms())
            self.model.clear()  # every key is new again
            note_event("retention passed")

    # ---- invariants -----------------------------------------------------------------------------

    def _epoch_of(self, at_ms: int) -> int:
        return sum(1 for start in self.epoch_starts[1:] if start <= at_ms)

    def _scan(self, table: str) -> list[dict[str, Any]]:
        return list(self.rig.db.scan(TableName=table, ConsistentRead=True)["Items"])

    @invariant()
    def at_most_one_payment_and_one_charge_per_key_per_retention_period(self) -> None:
        records = self._scan(self.rig.settings.payments_table)
        payments = [p for p in records if p["status"]["S"] == "succeeded"]  # declined attempts are kept too
        seen: dict[tuple[str, str, int], str] = {}
        for p in records:
            slot = (
                p["merchant_id"]["S"],
                p["metadata"]["M"]["k"]["S"],
                self._epoch_of(_epoch_ms(p["created_at"]["S"])),
            )
            assert slot not in seen, ("two payments for one key in one period", seen[slot], p["payment_id"]["S"])
            seen[slot] = p["payment_id"]["S"]
        charged = {e["charge"] for e in self.rig.ledger.entries()}
        assert {p["processor_payment_id"]["S"] for p in payments} <= charged, "a payment without a processor charge"
        references: dict[tuple[str, int], set[str]] = {}
        for reference, epoch in self.charges:
            references.setdefault((reference[:32], epoch), set()).add(reference)
        assert all(len(refs) == 1 for refs in references.values()), ("one key charged twice", references)
        # No lost payment: every created answer of this period names a stored payment.
        ids = {p["payment_id"]["S"] for p in payments}
        for km in self.model.values():
            if km.answer is not None and km.answer.status == 201:
                assert km.answer.payment_id in ids, ("answered but not stored", km.answer)

    @invariant()
    def no_key_is_held_beyond_the_invocations_that_could_hold_it(self) -> None:
        owners = {record_id(self.merchants[m], self.keys[k]): (m, k) for (m, k) in self.deadlines}
        for item in self._scan(self.rig.settings.idempotency_table):
            record = from_item(item)
            assert record is not None
            if record.status is Status.IN_PROGRESS:
                assert record.lease_expires_at_ms is not None
                assert record.lease_expires_at_ms <= self.deadlines[owners[record.record_id]], record


def _profile() -> hypothesis_settings:
    return hypothesis_settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("replay_cache_size", [0, 64], ids=["no-cache", "replay-cache"])
def test_random_interleavings_of_retries_crashes_and_time_keep_every_key_exactly_once(
    dynamodb: Any, settings: Any, tmp_path: Path, replay_cache_size: int
) -> None:
    Interleavings.context = Context(dynamodb.client, settings, tmp_path, replay_cache_size)
    run_state_machine_as_test(Interleavings, settings=_profile())
