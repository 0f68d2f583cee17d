"""`make invoke`: every committed event through the Docker-free `sam local invoke` path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


def make_invoke(*names: str) -> list[dict[str, Any]]:
    """What `make invoke EVENT=...` runs, in a fresh process like each `sam local invoke`."""
    result = subprocess.run(
        [sys.executable, "-m", "local.invoke", *(str(EVENTS / f"{n}.json") for n in names)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    decoder, out, responses = json.JSONDecoder(), result.stdout.strip(), []
    while out:
        response, end = decoder.raw_decode(out)
        responses.append(response)
        out = out[end:].strip()
    return responses


EXPECTED = {
    "create_payment": (201, None),
    "replay_payment": (201, None),
    "key_reused_different_body": (201, None),  # alone on a fresh DynamoDB it is simply a new request
    "missing_key": (400, "missing-idempotency-key"),
    "malformed_key": (400, "invalid-idempotency-key"),
    "invalid_body": (400, "invalid-request"),
    "decline": (402, "card-declined"),
    "get_payment": (404, "not-found"),
    # Alone on a fresh DynamoDB the fixtures' payment does not exist; the lists answer as documented.
    "create_refund": (404, "not-found"),
    "list_refunds": (404, "not-found"),
    "get_refund": (404, "not-found"),
    "list_payments": (200, None),
}


def test_every_event_has_an_expectation() -> None:
    assert {p.stem for p in EVENTS.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_event_alone(name: str) -> None:
    [response] = make_invoke(name)
    status, slug = EXPECTED[name]
    assert response["statusCode"] == status
    if slug:
        assert json.loads(response["body"])["type"].endswith(slug)


def test_events_in_sequence_show_replay_and_mismatch() -> None:
    responses = make_invoke("create_payment", "replay_payment", "key_reused_different_body", "decline", "decline")
    assert [r["statusCode"] for r in responses] == [201, 201, 422, 402, 402]
    assert responses[1]["body"] == responses[0]["body"]
    assert responses[1]["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    assert responses[4]["body"] == responses[3]["body"]
