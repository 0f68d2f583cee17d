"""The reconciler: keys an ambiguous failure left unknown are finished (or left) without the client.

Each test gets tables of its own (from template.yaml), so the recovery index holds only its keys.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
from typing import Any

import pytest

from payments_service.domain.payments import payment_id_for
from payments_service.domain.processor import Charge, ProcessorUnavailable, Unknown
from payments_service.idempotency.records import Status
from payments_service.logic.follow_up import FOLLOW_UP_RESULTS
from tests.support import FakeContext, payment_event, unique, visa

from .conftest import World

# The promise holds whichever way a completion commits (tests/conftest.py).
RUNS_ON_BOTH_COMPLETIONS = True

LOST = "tok_lostResponse"


def _merchant() -> str:
    return f"arn:aws:iam::111111111111:user/{unique('rec')}"


def test_a_charge_whose_answer_was_lost_is_completed_as_the_request_would_have_and_replayed(world: World) -> None:
    who, key = _merchant(), unique("k")
    event = payment_event(key, visa(source=LOST, description="d", metadata={"order": "7"}), merchant=who)
    # Given the processor charged but its answer was lost: the client got a 503 and never retries
    first = world.call(event)
    assert first.status == 503
    released = world.record(who, key)
    assert released.status is Status.RELEASED and len(world.processor.charges) == 1
    # When the reconciler runs
    report = world.deps.reconcile()
    # Then it completed the key: the payment, under the id derived from the reference, and its 201
    assert report.results["charged"] == 1 and report.unresolved_older_than_an_hour == 0
    record = world.record(who, key)
    assert record.status is Status.COMPLETED and record.lease_expires_at_ms is None
    [payment] = world.payments(who)
    assert payment["payment_id"]["S"] == payment_id_for(released.reference)
    assert payment["processor_payment_id"]["S"] == world.processor.charges[released.reference].id
    # And a later retry replays it: the same payment, marked as a replay, with nothing charged again
    retry = world.call(event)
    assert retry.status == 201 and retry.replayed and retry.payment_id == payment["payment_id"]["S"]
    assert retry.headers["Location"] == f"/payments/{retry.payment_id}"
    body = json.loads(retry.body)
    assert (body["amount"], body["currency"], body["description"], body["metadata"]) == (
        1000,
        "USD",
        "d",
        {"order": "7"},
    )
    assert world.processor.calls == 1
    # And the key has left the index: the next run finds nothing
    assert world.deps.reconcile().results["charged"] == 0


def test_the_recovered_answer_is_byte_for_byte_what_the_request_would_have_recorded(make_world: Any) -> None:
    from payments_service.logic.create_payment import charged
    from payments_service.models.payments import CreatePaymentRequest

    world = make_world()
    who, key = _merchant(), unique("k")
    body = visa(source=LOST, metadata={"a": "1"})
    world.call(payment_event(key, body, merchant=who))
    reference = world.record(who, key).reference
    world.deps.reconcile()
    recorded = world.record(who, key).result
    # The one builder, fed the client's request and the same charge and time, gives the same recorded JSON
    expected = charged(
        who,
        CreatePaymentRequest.model_validate(body),
        reference,
        Charge(world.processor.charges[reference].id),
        world.clock.now_ms(),
    )
    assert recorded == expected.result


class Killed(BaseException):
    """An invocation that dies without running any handler (a timeout, an out-of-memory kill)."""


def test_an_invocation_that_died_after_charging_is_found_once_its_lease_and_the_minimum_age_are_over(
    make_world: Any, processor: Any
) -> None:
    world = make_world(reconciler_min_age_seconds=300)
    who, key = _merchant(), unique("k")
    real_charge = processor.charge

    def charge_then_die(**kwargs: Any) -> Charge:
        real_charge(**kwargs)
        raise Killed()

    processor.charge = charge_then_die
    with pytest.raises(Killed):
        world.call(payment_event(key, visa(), merchant=who), remaining_ms=20_000)
    processor.charge = real_charge
    held = world.record(who, key)
    assert held.status is Status.IN_PROGRESS
    # While the lease runs, and until the minimum age has passed after it, nothing is touched
    assert world.deps.reconcile().results["charged"] == 0
    world.clock.advance(held.lease_expires_at_ms - world.clock.now_ms() + 299_000)
    assert world.deps.reconcile().results["charged"] == 0
    world.clock.advance(1_000)
    assert world.deps.reconcile().results["charged"] == 1
    assert world.record(who, key).status is Status.COMPLETED
    assert [p["payment_id"]["S"] for p in world.payments(who)] == [payment_id_for(held.reference)]


def test_a_reconciled_payment_is_dated_by_its_request_not_by_the_run_that_found_it(world: World) -> None:
    from payments_service.domain.payments import rfc3339

    who, key = _merchant(), unique("k")
    event = payment_event(key, visa(source=LOST), merchant=who)
    assert world.call(event).status == 503
    requested_ms = world.record(who, key).reference_created_at_ms
    assert requested_ms is not None
    # The reconciler finds the charge ten minutes after the request
    world.clock.advance(600_000)
    assert world.deps.reconcile().results["charged"] == 1
    body = json.loads(world.call(event).body)
    assert body["created_at"] == rfc3339(requested_ms)
    assert body["created_at"] != rfc3339(world.clock.now_ms())


class FailsFirstBeforeCharging:
    """The processor is unreachable for the first call (nothing charged), then works."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.failed = inner, False

    def charge(self, **kwargs: Any) -> Charge:
        if not self.failed:
            self.failed = True
            raise ProcessorUnavailable("unreachable")
        charge: Charge = self.inner.charge(**kwargs)
        return charge

    def find(self, reference: str, **_: Any) -> Any:
        return self.inner.find(reference)


def test_not_charged_leaves_the_key_for_a_clean_retry_under_the_same_reference(make_world: Any, processor: Any) -> None:
    world = make_world(processor=FailsFirstBeforeCharging(processor))
    who, key = _merchant(), unique("k")
    event = payment_event(key, visa(), merchant=who)
    assert world.call(event).status == 503
    reference = world.record(who, key).reference
    # When the reconciler finds nothing charged under the reference
    assert world.deps.reconcile().results["not_charged"] == 1
    # Then the key stays released, with its reference, and out of the index
    record = world.record(who, key)
    assert record.status is Status.RELEASED and record.reference == reference
    assert world.deps.reconcile().results == {r: 0 for r in world.deps.reconcile().results}
    assert world.payments(who) == []
    # And the client's retry takes it over and charges under that same reference
    retry = world.call(event)
    assert retry.status == 201 and not retry.replayed
    assert list(processor.charges) == [reference]


class UnknownLookups:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def charge(self, **kwargs: Any) -> Charge:
        charge: Charge = self.inner.charge(**kwargs)
        return charge

    def find(self, reference: str, **_: Any) -> Any:
        return Unknown()


def test_still_unknown_is_left_for_a_later_run_and_counted_once_an_hour_old(make_world: Any, processor: Any) -> None:
    world = make_world(processor=UnknownLookups(processor))
    who, key = _merchant(), unique("k")
    assert world.call(payment_event(key, visa(source=LOST), merchant=who)).status == 503
    first = world.deps.reconcile()
    assert first.results["still_unknown"] == 1 and first.unresolved_older_than_an_hour == 0
    assert world.record(who, key).status is Status.RELEASED
    # An hour on, still unknown: the alarm's figure says so
    world.clock.advance(3_600_001)
    later = world.deps.reconcile()
    assert later.results["still_unknown"] == 1 and later.unresolved_older_than_an_hour == 1


def test_each_run_is_bounded_and_the_next_one_carries_on(make_world: Any) -> None:
    world = make_world(reconciler_max_keys_per_run=2)
    who = _merchant()
    for _ in range(3):
        assert world.call(payment_event(unique("k"), visa(source=LOST), merchant=who)).status == 503
    first = world.deps.reconcile()
    assert first.results["charged"] == 2 and first.more_waiting
    second = world.deps.reconcile()
    assert second.results["charged"] == 1 and not second.more_waiting
    assert len(world.payments(who)) == 3


def test_overlapping_runs_complete_each_key_exactly_once(make_world: Any, processor: Any) -> None:
    world = make_world()
    who = _merchant()
    keys = [unique("k") for _ in range(6)]
    for key in keys:
        assert world.call(payment_event(key, visa(source=LOST), merchant=who)).status == 503
    barrier = threading.Barrier(2)
    reports: list[Any] = []

    def run() -> None:
        barrier.wait(5)
        reports.append(world.deps.reconcile())

    runs = [threading.Thread(target=run) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join(30)
    assert sum(r.results["charged"] for r in reports) == len(keys)
    assert sum(r.results["failed"] for r in reports) == 0
    assert len(world.payments(who)) == len(keys) == len(processor.charges)
    assert all(world.record(who, key).status is Status.COMPLETED for key in keys)


def test_unresolved_keys_are_found_by_querying_the_sparse_index_never_by_a_scan(world: World, dynamodb: Any) -> None:
    who = _merchant()
    done, lost = unique("k"), unique("k")
    assert world.call(payment_event(done, visa(), merchant=who)).status == 201
    assert world.call(payment_event(lost, visa(source=LOST), merchant=who)).status == 503
    index = world.db.scan(TableName=world.settings.idempotency_table, IndexName="UnresolvedIndex")["Items"]
    assert [i["id"]["S"] for i in index] == [world.record(who, lost).record_id]  # the completed key is not in it
    before = len(dynamodb.app.calls)
    world.deps.reconcile()
    calls = dynamodb.app.calls[before:]
    assert "Query" in calls and "Scan" not in calls


def test_the_sandbox_keeps_its_charges_durably_so_another_function_can_look_them_up(
    dynamodb: Any, settings: Any
) -> None:
    from payments_service.dal.clients import dynamodb_client
    from payments_service.dal.sandbox_charges import DynamoDBSandboxCharges
    from payments_service.domain.processor import Charged, NotCharged
    from payments_service.processors.sandbox import SandboxProcessor

    def sandbox() -> SandboxProcessor:  # each as its own function would build it
        return SandboxProcessor(
            slow_seconds=0, ledger=DynamoDBSandboxCharges(dynamodb_client, settings.sandbox_charges_table)
        )

    api_side, reconciler_side = sandbox(), sandbox()
    reference = unique("ref")
    with pytest.raises(ProcessorUnavailable):
        api_side.charge(reference=reference, amount=100, currency="USD", source=LOST)
    found = reconciler_side.find(reference)
    assert isinstance(found, Charged) and found.charge.id.startswith("ch_")
    assert isinstance(reconciler_side.find(unique("ref")), NotCharged)
    # And a charge under the same reference is the same charge
    again = api_side.charge(reference=reference, amount=100, currency="USD", source="tok_visa")
    assert again == found.charge


def test_the_scheduled_handler_runs_once_and_emits_a_metric_per_result_and_the_alarm_figure(world: World) -> None:
    from payments_service import bootstrap
    from payments_service.handlers import reconciler

    who = _merchant()
    assert world.call(payment_event(unique("k"), visa(source=LOST), merchant=who)).status == 503
    bootstrap.use(world.deps)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        summary = reconciler.lambda_handler({"source": "aws.scheduler"}, FakeContext(120_000))
    assert summary["results"]["charged"] == 1 and summary["unresolved_older_than_an_hour"] == 0
    emf = [json.loads(line) for line in out.getvalue().splitlines() if '"_aws"' in line]
    [metrics] = emf
    names = {m["Name"] for d in metrics["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert names == {
        "ReconcileCharged",
        "ReconcileNotCharged",
        "ReconcileRefunded",
        "ReconcileNotRefunded",
        "ReconcileRefused",
        "ReconcileStillUnknown",
        "ReconcileSkipped",
        "ReconcileFailed",
        "UnresolvedKeysOlderThanOneHour",
        "ReconcileParked",
        # and the follow-up of what is still moving at the processor (logic/follow_up.py), zeros included
        *("FollowUp" + "".join(w.capitalize() for w in r.split("_")) for r in FOLLOW_UP_RESULTS),
    }
    assert metrics["FollowUpFailed"] == [0.0]
    assert metrics["ReconcileCharged"] == [1.0] and metrics["UnresolvedKeysOlderThanOneHour"] == [0.0]


def test_the_reconciler_entry_point_never_imports_the_http_one() -> None:
    import subprocess
    import sys

    code = (
        "import sys, payments_service.handlers.reconciler\n"
        "assert 'payments_service.handlers.api' not in sys.modules, 'imports the HTTP entry point'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
