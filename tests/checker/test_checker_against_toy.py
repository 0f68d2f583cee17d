"""The checker against a toy server: it must catch the double charge, pass the correct control, and pinpoint flaws."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import unique

from .conftest import ALL_CHECKS
from .toy_server import Flaws, running

Run = Callable[..., tuple[int, str, str]]


def atomic(**flaws: Any) -> Flaws:
    """The correct control (key claimed under a lock), quick: without the race there is no window to widen."""
    return Flaws(**{"atomic": True, "charge_seconds": 0.01, "slow_seconds": 0.3, **flaws})


def failed(report: dict[str, Any]) -> set[str]:
    return {c["name"] for c in report["checks"] if not c["passed"]}


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["name"] == name)


def test_racy_server_exits_1_and_the_report_shows_the_double_charge(run_checker: Run) -> None:
    # Given a server that looks a key up, charges, then stores: concurrent duplicates all miss the lookup
    with running(Flaws(atomic=False)) as (url, toy):
        # When
        code, out, _ = run_checker(url, "--json", "--concurrency", "8")
    report = json.loads(out)
    # Then the run fails, and exactly on the two concurrency checks: every sequential check still passes
    assert code == 1
    assert report["passed"] is False
    assert {c["name"] for c in report["checks"]} == ALL_CHECKS
    assert failed(report) == {"concurrent-duplicates", "in-flight-conflict", "refund-duplicates", "racing-refunds"}
    racing = check(report, "racing-refunds")
    assert any(v.startswith("over-refund:") for v in racing["violations"]), racing
    burst = check(report, "concurrent-duplicates")
    assert len(burst["distinct_payment_ids"]) > 1
    assert any(
        v.startswith(f"double charge: {len(burst['distinct_payment_ids'])} distinct payment ids")
        for v in burst["violations"]
    )
    # ... and the ids reported are real payments the toy charged, not artefacts of the checker
    assert set(burst["distinct_payment_ids"]) <= set(toy.payments)
    assert any(v.startswith("double charge") for v in check(report, "in-flight-conflict")["violations"])


def test_table_names_the_failed_check_and_the_double_charge(run_checker: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "220")  # wide enough that rich does not wrap the evidence
    with running(Flaws(atomic=False)) as (url, _):
        code, out, _ = run_checker(url, "--concurrency", "8")
    assert code == 1
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "concurrent-duplicates" in line)
    end = next(i for i in range(start, len(lines)) if lines[i].startswith(("├", "└")))
    burst_row = "\n".join(lines[start:end])  # the table row of the burst check, all its lines
    assert "FAIL" in burst_row
    assert re.search(r"distinct payment ids: ([2-9]|\d\d)", burst_row), burst_row
    assert "double charge" in burst_row
    assert "4 of 11 checks FAILED" in out


def test_atomic_control_server_passes_every_check(run_checker: Run) -> None:
    # Given the same toy, but claiming the key under a lock first (409 while in flight)
    with running(atomic()) as (url, _):
        code, out, _ = run_checker(url, "--json", "--concurrency", "8")
    report = json.loads(out)
    assert code == 0, report
    assert failed(report) == set()
    assert check(report, "concurrent-duplicates")["statuses"].get("409", 0) >= 1
    assert len(check(report, "concurrent-duplicates")["distinct_payment_ids"]) == 1


@pytest.mark.parametrize(
    ("flaw", "expected_failures", "evidence"),
    [
        (
            {"replay_header": False},
            {
                "concurrent-duplicates",
                "replays",
                "mismatch",
                "in-flight-conflict",
                "decline-replay",
                "refund-duplicates",
            },
            "no 'Idempotent-Replayed: true' header",
        ),
        (
            {"problem_json": False},
            {
                "concurrent-duplicates",
                "mismatch",
                "in-flight-conflict",
                "decline-replay",
                "missing-key",
                "refund-duplicates",
                "racing-refunds",
                "over-refund",
                "problem-json",
            },
            "not application/problem+json",
        ),
        ({"check_body": False}, {"mismatch"}, "expected 422, got 201"),
    ],
    ids=["no-replay-header", "plain-json-errors", "ignores-body-mismatch"],
)
def test_each_single_flaw_fails_exactly_the_checks_that_cover_it(
    run_checker: Run, flaw: dict[str, bool], expected_failures: set[str], evidence: str
) -> None:
    with running(atomic(**flaw)) as (url, _):
        code, out, _ = run_checker(url, "--json", "--concurrency", "4")
    report = json.loads(out)
    assert code == 1
    assert failed(report) == expected_failures
    violations = [v for c in report["checks"] for v in c["violations"]]
    assert any(evidence in v for v in violations), violations


def test_endpoint_refusing_our_credentials_is_a_usage_error_not_a_verdict(run_checker: Run) -> None:
    # Given an endpoint that only lets another merchant in (like API Gateway answering 403)
    with running(atomic(merchant=f"arn:aws:iam::000000000000:user/{unique('m')}")) as (url, toy):
        code, out, err = run_checker(url, "--local")
    assert code == 2
    assert "403" in err and out == ""
    assert [r.method for r in toy.received] == ["GET"]  # stopped after the probe: nothing was charged
    assert toy.charges == 0
