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


def test_every_api_event_has_an_expectation() -> None:
    # The queue's events (sqs_*) are checked through the consumer in tests/queue/test_event_fixtures.py.
    assert {p.stem for p in EVENTS.glob("*.json") if not p.stem.startswith("sqs_")} == set(EXPECTED)


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


@pytest.mark.parametrize(
    ("content", "says"),
    [("{not json", "is not JSON"), ("[1, 2]", "JSON object"), ('{"httpMethod": "GET"}', "'path' missing")],
)
def test_a_malformed_event_file_is_one_clear_error_line(tmp_path: Path, content: str, says: str) -> None:
    event = tmp_path / "event.json"
    event.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "local.invoke", str(event)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and says in result.stderr


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True
    )


def test_make_invoke_prints_only_the_functions_json_on_stdout() -> None:
    out = make("invoke", "EVENT=events/create_payment.json").stdout
    assert json.loads(out)["statusCode"] == 201  # the whole of stdout is the response: `| jq` works


def test_make_help_lists_the_targets() -> None:
    out = make("help").stdout
    for target in ("run", "test", "invoke", "demo", "load", "dynamodb", "help"):
        assert f"make {target} " in out


def test_make_demo_shows_create_replay_mismatch_get_and_decline() -> None:
    lines = [line for line in make("demo").stdout.splitlines() if line.strip().startswith("->")]
    assert [line.split()[1] for line in lines] == ["201", "201", "422", "200", "402", "402"]
    created = lines[0].split()[2]
    assert lines[1].split()[2] == created and "Idempotent-Replayed: true" in lines[1]
    assert lines[3].split()[2] == created  # the GET finds the payment the first step made
    assert "idempotency-key-reused" in lines[2] and "Idempotent-Replayed: true" in lines[5]
