"""Two Regions on one strongly consistent table (an MRSC global table, docs/multi-region.md), simulated: two API
deployments, each with its own DynamoDB client, on the one serialized embedded DynamoDB, and one processor
(Stripe is global). Region A is cut off in the middle of a payment, its writes failing or stalled as an isolated
MRSC replica's are; the client fails over to Region B with the same Idempotency-Key.

Every case: one charge, one payment, B's answer replayed for ever (from either Region once A is back), and
A's stale owner fenced when it returns.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from payments_service.idempotency.records import Status
from payments_service.models.payments import CreatePaymentRequest
from tests.proof.exactly_once import obeying
from tests.proof.injection import Boundary
from tests.proof.oracle import Answer, key_record, merchant, payments_of
from tests.proof.rig import Rig, build_rig
from tests.support import payment_event, unique, visa

REMAINING_MS = 20_000
MAX_POLLS = 60


class Region:
    """A Region's DynamoDB client: passes every call through until the Region is cut off, then fails them all
    as an isolated replica does (its reads and writes return errors), until it is back."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.isolated = threading.Event()
        self.refused: list[str] = []

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._inner, name)
        if not callable(call) or name.startswith("_") or name == "meta":
            return call

        def regional(**kwargs: Any) -> Any:
            if self.isolated.is_set():
                self.refused.append(name)
                error = {"Code": "ServiceUnavailable", "Message": "Region isolated (simulated)"}
                raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 503}}, name)
            return call(**kwargs)

        return regional


def _regions(make_rig: Any, settings: Any, db: Any, tmp_path: Path) -> tuple[Rig, Rig, Region]:
    """(Region A's rig, Region B's rig, A's client): one clock and one processor for both."""
    b = make_rig()
    regions: list[Region] = []

    def cut_off_able(inner: Any) -> Any:
        regions.append(Region(inner))
        return regions[-1]

    a = build_rig(
        b.settings, db, tmp_path / "region-a.jsonl", clock=b.clock, sandbox=b.sandbox, wrap_client=cut_off_able
    )
    return a, b, regions[0]


def _charges(*rigs: Rig) -> set[str]:
    return set().union(*(rig.ledger.charge_ids() for rig in rigs))


def _fail_over(b: Rig, event: dict[str, Any]) -> tuple[Answer, int]:
    """The client, failed over to B with the same key, polling as Retry-After says until it has a final answer."""
    answer = b.call(event, REMAINING_MS)
    polls = 0
    while answer.status in (409, 503):
        polls += 1
        assert polls <= MAX_POLLS, f"still {answer.status} after {polls} polls"
        b.clock.advance(obeying(answer, 0))
        answer = b.call(event, REMAINING_MS)
    return answer, polls


def test_a_region_cut_off_after_charging_fails_over_to_one_charge_and_replays_from_both(
    make_rig: Any, settings: Any, dynamodb: Any, tmp_path: Path
) -> None:
    a, b, region_a = _regions(make_rig, settings, dynamodb.client, tmp_path)
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    # Given Region A claims the key and charges, and is cut off before it can record anything
    a.plan.arm(Boundary.AFTER_CHARGE, region_a.isolated.set)
    first = a.call(event, REMAINING_MS)
    assert first.status == 503, first  # what reaches the client of an isolated Region, at best
    assert region_a.refused, "the isolation was not exercised"
    held = key_record(b.db, b.settings.idempotency_table, who, key)
    assert held is not None and held.status is Status.IN_PROGRESS  # A's claim, consistent in every Region
    # When the client fails over to Region B with the same key and obeys Retry-After
    final, polls = _fail_over(b, event)
    # Then B waited out A's lease (never a second owner while A might still charge), took the key over under
    # the same processor reference, and recorded the one charge A made
    assert polls >= 1
    assert final.status == 201 and not final.replayed, final
    assert held.lease_expires_at_ms is not None and b.clock.now_ms() >= held.lease_expires_at_ms
    assert len(_charges(a, b)) == 1
    assert [p["payment_id"]["S"] for p in payments_of(b.db, b.settings.payments_table, who)] == [final.payment_id]
    # And once A is back, both Regions replay B's answer byte for byte
    region_a.isolated.clear()
    for rig in (a, b):
        again = rig.call(event)
        assert again.replayed and again.same_bytes(final), again
    record = key_record(b.db, b.settings.idempotency_table, who, key)
    assert record is not None and record.status is Status.COMPLETED


def test_a_stalled_region_that_returns_after_the_failover_is_fenced_and_answers_the_replay(
    make_rig: Any, settings: Any, dynamodb: Any, tmp_path: Path
) -> None:
    a, b, _ = _regions(make_rig, settings, dynamodb.client, tmp_path)
    who, key = merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    request = CreatePaymentRequest.model_validate(json.loads(event["body"]))
    # Given Region A charged and is stuck just before its commit (its replica cut off, its function still alive)
    returned, stuck = threading.Event(), threading.Event()

    def stall() -> None:
        stuck.set()
        assert returned.wait(60), "Region A never came back"

    a.plan.arm(Boundary.BEFORE_COMMIT, stall)
    with ThreadPoolExecutor(1) as pool:
        # (A's use case is called directly: the handler's container is one per process, B's here)
        late = pool.submit(a.deps.create_payment, who, key, request, REMAINING_MS)
        assert stuck.wait(60)
        # When the client fails over to B, which takes the key over once A's lease has ended and completes it
        final, _ = _fail_over(b, event)
        assert final.status == 201 and not final.replayed, final
        # And A comes back and sends its commit
        returned.set()
        stale = late.result(timeout=60)
    # Then A's commit was fenced (the key is B's): A answers B's payment as a replay, nothing of A's landed
    assert stale.replayed
    assert stale.recorded.payment_id == final.payment_id
    assert len(_charges(a, b)) == 1
    assert [p["payment_id"]["S"] for p in payments_of(b.db, b.settings.payments_table, who)] == [final.payment_id]
    again = a.call(event)
    assert again.replayed and again.same_bytes(final), again
