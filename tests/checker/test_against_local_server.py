"""The checker, as a command, against our real local server (`python -m local.server`): every check passes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ALL_CHECKS, ROOT, no_aws_environment


def checker(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.idempotency_check", *argv],
        cwd=ROOT,
        env=no_aws_environment(),
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("server", ["local_server", "sequential_server"])
def test_real_local_server_passes_every_check(server: str, request: pytest.FixtureRequest) -> None:
    # When the default battery (16 concurrent duplicates) runs against the real handler + embedded DynamoDB,
    # completing keys in one transaction or, as global tables in strong consistency need, in sequence
    done = checker(request.getfixturevalue(server), "--json")
    # Then exit 0, every check present and passed, one payment id for the whole burst
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] is True
    assert {c["name"] for c in report["checks"]} == ALL_CHECKS
    assert all(c["passed"] for c in report["checks"]), report
    burst = next(c for c in report["checks"] if c["name"] == "concurrent-duplicates")
    assert len(burst["distinct_payment_ids"]) == 1
    assert sum(burst["statuses"].values()) == 17  # 16 duplicates + 1 retry: every one answered
    in_flight = next(c for c in report["checks"] if c["name"] == "in-flight-conflict")
    assert in_flight["statuses"] == {"201": 1, "409": 1, "201 replayed": 1}
    # The refunds battery: 16 racing refunds of 200 on 1600, exactly 8 fit; the rest told what remains (0)
    racing = next(c for c in report["checks"] if c["name"] == "racing-refunds")
    assert racing["statuses"] == {"201": 1 + 8, "409": 8}, racing
    over = next(c for c in report["checks"] if c["name"] == "over-refund")
    assert over["statuses"] == {"201": 3, "409": 1}, over


def test_table_output_without_a_terminal_has_no_progress_bar_and_says_all_passed(local_server: str) -> None:
    done = checker(local_server, "--local", "--concurrency", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all 11 checks passed" in done.stdout
    assert "FAIL" not in done.stdout
    assert done.stderr == ""  # no progress bar drawn anywhere when stdout is not a terminal
