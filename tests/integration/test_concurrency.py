"""Many simultaneous retries of one key against a DynamoDB that serializes requests, as the real one does."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support import payment_event, payments_of, unique, visa

# The promise holds whichever way a completion commits (tests/conftest.py).
RUNS_ON_BOTH_COMPLETIONS = True

THREADS = 24


@pytest.mark.parametrize("source", ["tok_visa", "tok_slow"])
def test_concurrent_duplicates_charge_once_and_agree(
    invoke: Any, dynamodb: Any, settings: Any, processor: Any, source: str
) -> None:
    merchant = f"arn:aws:iam::111111111111:user/{unique('m')}"
    event = payment_event(unique("k"), visa(source=source), merchant=merchant)
    start = threading.Barrier(THREADS)

    def send(_: int) -> dict[str, Any]:
        start.wait(10)  # all threads fire together
        return invoke(event)

    with ThreadPoolExecutor(THREADS) as pool:
        responses = list(pool.map(send, range(THREADS)))

    statuses = [r["statusCode"] for r in responses]
    created = [r for r in responses if r["statusCode"] == 201]
    assert set(statuses) <= {201, 409}, statuses
    assert created, statuses
    originals = [r for r in created if "Idempotent-Replayed" not in r["multiValueHeaders"]]
    assert len(originals) == 1, "exactly one request did the work"
    assert {r["body"] for r in created} == {originals[0]["body"]}, "every replay is byte-identical"
    for conflict in (r for r in responses if r["statusCode"] == 409):
        assert int(conflict["multiValueHeaders"]["Retry-After"][0]) >= 1
    payments = payments_of(dynamodb.client, settings.payments_table, merchant)
    assert [p["payment_id"]["S"] for p in payments] == [json.loads(originals[0]["body"])["id"]]
    assert len(processor.charges) == 1
