"""The key sweeper: where the keys table has no TTL, expired keys are deleted in bounded, resumable runs.

Each test gets tables of its own (from template.yaml), so a pass sees only its keys and its cursor.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from payments_service.dal.expired_keys import CURSOR_ID, DynamoDBExpiredKeys
from payments_service.dal.idempotency_table import to_item
from payments_service.idempotency.expiry import ExpiredPage, Position, SweepCursor
from payments_service.idempotency.keys import record_id
from payments_service.idempotency.records import IdempotencyRecord, Status
from payments_service.logic.sweep_expired_keys import SweepExpiredKeys, SweepReport
from tests.support import FakeContext, payment_event, unique, visa

from .conftest import World


class Watched:
    """The real store, remembering where each page started and which keys it returned; `after_page` and
    `after_move` run once a page is read and once the cursor is moved (the test's own interference)."""

    def __init__(self, world: World) -> None:
        self.inner = DynamoDBExpiredKeys(world.deps.client, world.settings.idempotency_table)
        self.pages: list[tuple[Position | None, list[str]]] = []
        self.deletes: list[str] = []
        self.moves: list[SweepCursor] = []
        self.after_page: Callable[[int], None] = lambda n: None
        self.after_move: Callable[[int], None] = lambda n: None

    def read_cursor(self) -> SweepCursor:
        return self.inner.read_cursor()

    def expired_page(self, start: Position | None, now_s: int, limit: int) -> ExpiredPage:
        page = self.inner.expired_page(start, now_s, limit)
        self.pages.append((start, [k.record_id for k in page.keys]))
        self.after_page(len(self.pages))
        return page

    def delete_expired(self, rid: str, now_s: int) -> bool:
        self.deletes.append(rid)
        return self.inner.delete_expired(rid, now_s)

    def move_cursor(self, cursor: SweepCursor, start: Position | None, now_ms: int) -> SweepCursor | None:
        moved = self.inner.move_cursor(cursor, start, now_ms)
        if moved is not None:
            self.moves.append(moved)
            self.after_move(len(self.moves))
        return moved

    def seen(self) -> list[str]:
        return [rid for _, ids in self.pages for rid in ids]


def _sweeper(world: World, store: Any, *, deletes: int = 1_000, page: int = 100, pages: int = 100) -> SweepExpiredKeys:
    return SweepExpiredKeys(store, world.clock, max_deletes_per_run=deletes, page_size=page, max_pages_per_run=pages)


def _put(world: World, status: str, *, expired: bool, lease_ms: int | None = None, rid: str | None = None) -> str:
    """A key as the engine writes it; `status` may be one this code does not know (COMPLETING)."""
    now_s = world.clock.now_ms() // 1000
    rid = rid or record_id(unique("m"), unique("k"))
    record = IdempotencyRecord(
        record_id=rid,
        status=Status.COMPLETED if status == "COMPLETING" else Status(status),
        fingerprint="f",
        reference="r",
        expires_at=now_s - 10 if expired else now_s + 3_600,
        owner="o" if status != "COMPLETED" else None,
        lease_expires_at_ms=lease_ms,
    )
    item = to_item(record) | {"status": {"S": status}}
    world.db.put_item(TableName=world.settings.idempotency_table, Item=item)
    return rid


def _present(world: World, rid: str) -> bool:
    got = world.db.get_item(TableName=world.settings.idempotency_table, Key={"id": {"S": rid}}, ConsistentRead=True)
    return "Item" in got


def _cursor(world: World) -> SweepCursor:
    return DynamoDBExpiredKeys(world.deps.client, world.settings.idempotency_table).read_cursor()


def _until_pass_completed(sweep: SweepExpiredKeys, runs: int = 50) -> list[SweepReport]:
    reports = [sweep()]
    while not reports[-1].pass_completed:
        assert len(reports) < runs, reports
        assert reports[-1].error is None, reports[-1]
        reports.append(sweep())
    return reports


@pytest.fixture
def exhaust() -> int:
    """Failures in a row that reach the DAL as an error: as many as the production client's attempts."""
    from payments_service.dal.clients import dynamodb_client

    return int(dynamodb_client().meta.config.retries["total_max_attempts"])


def test_expired_keys_are_deleted_and_live_ones_kept(world: World) -> None:
    # Given a payment whose key has passed its retention, and one made afterwards
    who, old, new = f"arn:aws:iam::111111111111:user/{unique('sw')}", unique("k"), unique("k")
    assert world.call(payment_event(old, visa(), merchant=who)).status == 201
    world.clock.advance((world.settings.retention_seconds + 1) * 1000)
    assert world.call(payment_event(new, visa(), merchant=who)).status == 201
    released = _put(world, "RELEASED", expired=True)
    live = [_put(world, "COMPLETED", expired=False), _put(world, "RELEASED", expired=False)]
    # When the sweeper runs
    report = world.deps.sweep_expired_keys()
    # Then the expired keys are gone, the live ones kept, and one run finished the pass
    assert world.record(who, old) is None and not _present(world, released)
    assert world.record(who, new) is not None and world.record(who, new).status is Status.COMPLETED
    assert all(_present(world, rid) for rid in live)
    assert (report.swept, report.skipped, report.pass_completed, report.stopped) == (2, 0, True, "pass_completed")
    # And the payments themselves are untouched: only keys expire
    assert len(world.payments(who)) == 2


def test_a_key_held_or_being_completed_is_kept_even_past_its_expiry(world: World) -> None:
    now_ms = world.clock.now_ms()
    # Given (artificially) expired keys that someone may still be writing
    held = _put(world, "IN_PROGRESS", expired=True, lease_ms=now_ms + 60_000)
    completing = _put(world, "COMPLETING", expired=True, lease_ms=now_ms + 60_000)
    lapsed = _put(world, "IN_PROGRESS", expired=True, lease_ms=now_ms - 60_000)
    done = _put(world, "COMPLETED", expired=True)
    # When the sweeper runs
    report = world.deps.sweep_expired_keys()
    # Then only the completed key is deleted: any status other than COMPLETED / RELEASED is left
    assert [_present(world, rid) for rid in (held, completing, lapsed, done)] == [True, True, True, False]
    assert (report.swept, report.skipped) == (1, 3)


def test_the_delete_itself_rechecks_the_rule_and_the_expiry(world: World) -> None:
    store = DynamoDBExpiredKeys(world.deps.client, world.settings.idempotency_table)
    now_s = world.clock.now_ms() // 1000
    held = _put(world, "IN_PROGRESS", expired=True, lease_ms=world.clock.now_ms() + 60_000)
    completing = _put(world, "COMPLETING", expired=True)
    live = _put(world, "COMPLETED", expired=False)
    done = _put(world, "COMPLETED", expired=True)
    # A delete sent for any of the first three (a page read before a change) is refused by DynamoDB itself
    assert [store.delete_expired(rid, now_s) for rid in (held, completing, live)] == [False, False, False]
    assert all(_present(world, rid) for rid in (held, completing, live))
    # An expired completed key is deleted once; a second delete is a condition failure, not an error
    assert store.delete_expired(done, now_s) is True
    assert store.delete_expired(done, now_s) is False
    assert store.delete_expired(record_id("nobody", unique("k")), now_s) is False


def test_a_key_renewed_or_deleted_after_its_page_was_read_is_skipped_not_an_error(world: World) -> None:
    renewed, gone, expired = (_put(world, "RELEASED", expired=True) for _ in range(3))
    store = Watched(world)

    def meanwhile(_: int) -> None:
        # A takeover renews one key's retention, another run deletes another
        world.db.update_item(
            TableName=world.settings.idempotency_table,
            Key={"id": {"S": renewed}},
            UpdateExpression="SET expires_at = :exp, #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":exp": {"N": str(world.clock.now_ms() // 1000 + 86_400)},
                ":s": {"S": Status.IN_PROGRESS.value},
            },
        )
        world.db.delete_item(TableName=world.settings.idempotency_table, Key={"id": {"S": gone}})

    store.after_page = meanwhile
    report = _sweeper(world, store)()
    assert sorted(store.deletes) == sorted([renewed, gone, expired])  # all three were tried
    assert (report.swept, report.skipped, report.error, report.pass_completed) == (1, 2, None, True)
    assert _present(world, renewed) and not _present(world, expired)


def test_a_bounded_run_leaves_the_rest_and_the_next_run_resumes_from_its_cursor(world: World) -> None:
    expired = {_put(world, "COMPLETED", expired=True) for _ in range(9)}
    left = {_put(world, "IN_PROGRESS", expired=True, lease_ms=world.clock.now_ms() - 1) for _ in range(3)}
    live = {_put(world, "COMPLETED", expired=False) for _ in range(3)}
    store = Watched(world)
    sweep = _sweeper(world, store, deletes=4, page=3)
    # The first run stops at its bound, with the rest left and its place kept
    first = sweep()
    assert (first.swept, first.stopped, first.pass_completed) == (4, "max_deletes", False)
    assert sum(_present(world, rid) for rid in expired) == 5
    stored = _cursor(world)
    assert stored.start is not None and stored == store.moves[-1]
    # The next run starts at that cursor, not at the table's start
    read_by_first = store.seen()
    store.pages.clear()
    reports = [first, *_until_pass_completed(sweep)]
    assert store.pages[0][0] == stored.start
    # And over the pass every expired key was read exactly once (a restart would read the first run's again)
    read = read_by_first + store.seen()
    assert sorted(read) == sorted(expired | left)
    assert sum(r.swept for r in reports) == 9 and all(r.swept <= 4 for r in reports)
    assert not any(_present(world, rid) for rid in expired)
    assert all(_present(world, rid) for rid in left | live)


def test_a_run_reads_at_most_its_pages(world: World, dynamodb: Any) -> None:
    for _ in range(10):
        _put(world, "COMPLETED", expired=True)
    before = len(dynamodb.app.calls)
    report = _sweeper(world, Watched(world), page=2, pages=2)()
    scans = dynamodb.app.calls[before:].count("Scan")
    assert (report.pages, scans, report.stopped) == (2, 2, "max_pages")
    assert report.swept <= 4


def test_a_full_pass_clears_the_cursor_and_the_next_run_starts_over(world: World) -> None:
    for _ in range(5):
        _put(world, "COMPLETED", expired=True)
    store = Watched(world)
    sweep = _sweeper(world, store, page=2)
    reports = _until_pass_completed(sweep)
    assert sum(r.swept for r in reports) == 5
    cleared = _cursor(world)
    assert cleared.start is None and cleared.version == len(store.moves) > 1
    # A key expiring later is found by the next pass, which starts at the table's start again
    late = _put(world, "COMPLETED", expired=True)
    store.pages.clear()
    assert sum(r.swept for r in _until_pass_completed(sweep)) == 1
    assert store.pages[0][0] is None and not _present(world, late)


def test_running_twice_is_harmless(world: World) -> None:
    expired = [_put(world, "RELEASED", expired=True) for _ in range(3)]
    live = [_put(world, "COMPLETED", expired=False) for _ in range(3)]
    first, second = world.deps.sweep_expired_keys(), world.deps.sweep_expired_keys()
    assert (first.swept, second.swept, second.skipped, second.error) == (3, 0, 0, None)
    assert second.pass_completed and not any(_present(world, rid) for rid in expired)
    assert all(_present(world, rid) for rid in live)


def test_a_run_stops_before_the_invocation_ends_and_the_next_reads_the_cut_page_again(world: World) -> None:
    expired = [_put(world, "COMPLETED", expired=True) for _ in range(5)]
    store = Watched(world)
    sweep = _sweeper(world, store, page=10)
    # Given an invocation that runs short after two deletes
    first = sweep(lambda: 60_000 if len(store.deletes) < 2 else 4_000)
    assert (first.swept, first.stopped) == (2, "time")
    # Then the cursor did not move past the page it cut short
    assert _cursor(world) == SweepCursor(start=None, version=0)
    # And the next run reads that page again and finishes it
    second = sweep(lambda: 60_000)
    assert (second.swept, second.pass_completed) == (3, True)
    assert not any(_present(world, rid) for rid in expired)


def test_a_run_with_too_little_time_reads_nothing(world: World) -> None:
    _put(world, "COMPLETED", expired=True)
    report = _sweeper(world, Watched(world))(lambda: 4_999)
    assert (report.pages, report.swept, report.stopped) == (0, 0, "time")


@pytest.mark.parametrize("operation", ["Scan", "DeleteItem", "PutItem"])
def test_a_transient_fault_mid_run_keeps_the_cursor_and_the_next_run_finishes(
    world: World, faults: Any, exhaust: int, operation: str
) -> None:
    expired = [_put(world, "COMPLETED", expired=True) for _ in range(6)]
    live = _put(world, "COMPLETED", expired=False)
    store = Watched(world)
    # Given DynamoDB failing (past the SDK's retries) right after the first page's cursor was stored
    store.after_move = lambda n: faults.add(operation, status=500, code="InternalServerError", times=exhaust)
    sweep = _sweeper(world, store, page=3)
    first = sweep()
    assert (first.stopped, first.error, first.pass_completed) == ("unavailable", "InternalServerError", False)
    kept = _cursor(world)
    assert kept == store.moves[0] and kept.start is not None
    # When the next run comes, DynamoDB healthy again
    store.after_move = lambda n: None
    resumed_at = len(store.pages)
    reports = _until_pass_completed(sweep)
    assert store.pages[resumed_at][0] == kept.start
    assert sum(r.swept for r in [first, *reports]) == 6
    assert not any(_present(world, rid) for rid in expired) and _present(world, live)


def test_overlapping_runs_cannot_both_move_the_cursor(world: World) -> None:
    store = DynamoDBExpiredKeys(world.deps.client, world.settings.idempotency_table)
    now_ms = world.clock.now_ms()
    # Two runs read the same cursor; the first to move it wins, the second writes nothing
    a, b = store.read_cursor(), store.read_cursor()
    moved = store.move_cursor(a, {"id": {"S": "f" * 64}}, now_ms)
    assert moved is not None and moved.version == 1
    assert store.move_cursor(b, None, now_ms) is None
    assert store.read_cursor() == moved
    # The same from any later version: two runs reading version 1, one moves it to 2, the other writes nothing
    c, d = store.read_cursor(), store.read_cursor()
    assert store.move_cursor(c, None, now_ms) == SweepCursor(start=None, version=2)
    assert store.move_cursor(d, {"id": {"S": "0" * 64}}, now_ms) is None
    assert store.read_cursor() == SweepCursor(start=None, version=2)


def test_a_run_whose_cursor_another_run_moved_stops_and_nothing_is_swept_twice(world: World) -> None:
    expired = [_put(world, "COMPLETED", expired=True) for _ in range(6)]
    store = Watched(world)
    other = Watched(world)
    # Given another run that sweeps the same first page while this one is on it
    store.after_page = lambda n: _sweeper(world, other, page=3, pages=1)() if n == 1 else None
    report = _sweeper(world, store, page=3)()
    # Then this run does not move the cursor back over the other's: it stops, and the other's cursor stays
    assert report.stopped == "cursor_moved" and report.error is None
    assert _cursor(world) == other.moves[-1]
    # Each key was deleted once, the duplicates counted as skipped
    assert len(store.deletes) == len(other.deletes) == 3 and report.skipped == 3 and report.swept == 0
    rest = _until_pass_completed(_sweeper(world, Watched(world), page=3))
    assert sum(r.swept for r in rest) == 3 and not any(_present(world, rid) for rid in expired)


def test_the_cursor_item_is_never_taken_for_a_key(world: World) -> None:
    expired = [_put(world, "COMPLETED", expired=True) for _ in range(4)]
    # Given a cursor stored in the middle of a pass
    _sweeper(world, Watched(world), page=2, pages=1)()
    table = world.settings.idempotency_table
    cursor = world.db.get_item(TableName=table, Key={"id": {"S": CURSOR_ID}}, ConsistentRead=True)["Item"]
    assert "start" in cursor
    # It carries nothing a key does: no expiry (TTL and every filter pass it by), no status, no place in the index
    assert not {"expires_at", "status", "unresolved_bucket", "unresolved_at"} & set(cursor)
    index = world.db.scan(TableName=table, IndexName="UnresolvedIndex")["Items"]
    assert CURSOR_ID not in {i["id"]["S"] for i in index}
    # The reconciler finds nothing to do and fails on nothing
    assert sum(world.deps.reconcile().results.values()) == 0
    # And the sweeper never reads it as a key nor deletes it, pass after pass
    store = Watched(world)
    sweep = _sweeper(world, store, page=2)
    reports = [*_until_pass_completed(sweep), *_until_pass_completed(sweep)]
    assert CURSOR_ID not in store.seen() + store.deletes
    assert sum(r.swept for r in reports) == 2 and not any(_present(world, rid) for rid in expired)
    assert _present(world, CURSOR_ID)


def _logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The run's log lines (Powertools writes them to the stream it was built with; pytest sees the records)."""
    lines = [r for r in caplog.records if r.getMessage() == "keys swept"]
    caplog.clear()
    return lines


def test_the_scheduled_handler_emits_its_metrics_and_one_log_line(
    make_world: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from payments_service import bootstrap
    from payments_service.handlers import sweeper

    world = make_world(key_sweeper_max_deletes_per_run=2, key_sweeper_page_size=2, key_sweeper_max_pages_per_run=5)
    for _ in range(3):
        _put(world, "COMPLETED", expired=True)
    _put(world, "COMPLETING", expired=True, rid="f" * 64)  # the largest id: the pass's last item (moto scans by id)
    bootstrap.use(world.deps)

    def invoke() -> tuple[dict[str, Any], dict[str, Any], list[logging.LogRecord]]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            summary = sweeper.handler({"source": "aws.scheduler"}, FakeContext(120_000))
        [emf] = [json.loads(line) for line in out.getvalue().splitlines() if '"_aws"' in line]
        return summary, emf, _logged(caplog)

    summary, emf, [logged] = invoke()
    # The first run stops at its two deletes (the settings' bound) ...
    assert summary == {"swept": 2, "skipped": 0, "pages": 1, "pass_completed": False, "stopped": "max_deletes"}
    names = {m["Name"] for d in emf["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert names == {"KeySweeperSwept", "KeySweeperSkipped", "KeySweeperPagesScanned", "KeySweeperPassCompleted"}
    assert (emf["KeySweeperSwept"], emf["KeySweeperPagesScanned"], emf["KeySweeperPassCompleted"]) == (
        [2.0],
        [1.0],
        [0.0],
    )
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "IdempotentPayments"
    assert logged.levelname == "INFO"
    assert (vars(logged)["swept"], vars(logged)["pages"], vars(logged)["stopped"]) == (2, 1, "max_deletes")
    # ... the second finishes the pass, the key being completed counted as skipped
    summary, emf, [logged] = invoke()
    assert (summary["swept"], summary["skipped"], summary["pass_completed"]) == (1, 1, True)
    assert (emf["KeySweeperSwept"], emf["KeySweeperSkipped"], emf["KeySweeperPassCompleted"]) == ([1.0], [1.0], [1.0])


def test_the_handler_logs_a_transient_failure_as_a_warning_and_still_emits_its_metrics(
    world: World, faults: Any, exhaust: int, caplog: pytest.LogCaptureFixture
) -> None:
    from payments_service import bootstrap
    from payments_service.handlers import sweeper

    _put(world, "COMPLETED", expired=True)
    bootstrap.use(world.deps)
    faults.add("Scan", status=400, code="ThrottlingException", times=exhaust)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        summary = sweeper.handler({"source": "aws.scheduler"}, FakeContext(120_000))
    [emf] = [json.loads(line) for line in out.getvalue().splitlines() if '"_aws"' in line]
    [logged] = _logged(caplog)
    assert summary["stopped"] == "unavailable" and summary["swept"] == 0
    assert logged.levelname == "WARNING" and vars(logged)["error"] == "ThrottlingException"
    assert (emf["KeySweeperSwept"], emf["KeySweeperPagesScanned"]) == ([0.0], [0.0])


def test_the_sweeper_entry_point_never_imports_the_http_one() -> None:
    import subprocess
    import sys

    code = (
        "import sys, payments_service.handlers.sweeper\n"
        "assert 'payments_service.handlers.api' not in sys.modules, 'imports the HTTP entry point'\n"
        "assert 'payments_service.logic.reconcile' not in sys.modules, 'imports the reconciler'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
