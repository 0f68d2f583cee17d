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
    return make_invoke_paths(*(EVENTS / f"{n}.json" for n in names))


def make_invoke_paths(*paths: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "local.invoke", *(str(p) for p in paths)],
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
    "stripe_webhook": (200, None),  # StripeWebhookFunction, signed again at invocation: an event not ours, acknowledged
}
# SQS events go to PaymentQueueFunction: what it reports for SQS to deliver again (none: the poison
# message is parked on the local dead-letter queue, not retried).
EXPECTED_SQS: dict[str, list[dict[str, str]]] = {
    "sqs_payment_request": [],
    "sqs_duplicates_in_batch": [],
    "sqs_poison_message": [],
}


def test_every_event_has_an_expectation() -> None:
    assert {p.stem for p in EVENTS.glob("*.json")} == set(EXPECTED) | set(EXPECTED_SQS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_event_alone(name: str) -> None:
    [response] = make_invoke(name)
    status, slug = EXPECTED[name]
    assert response["statusCode"] == status
    if slug:
        assert json.loads(response["body"])["type"].endswith(slug)


@pytest.mark.parametrize("name", sorted(EXPECTED_SQS))
def test_each_sqs_event_alone_goes_to_the_queue_function(name: str) -> None:
    [response] = make_invoke(name)
    assert response == {"batchItemFailures": EXPECTED_SQS[name]}


def test_an_sqs_event_and_an_api_event_with_its_key_are_one_payment(tmp_path: Path) -> None:
    # `sam local invoke PaymentQueueFunction -e sqs_payment_request.json`, then the same payment over HTTP
    # (same merchant, key and body) on the same DynamoDB: the API replays what the queue function created.
    record = json.loads((EVENTS / "sqs_payment_request.json").read_text())["Records"][0]
    api = json.loads((EVENTS / "create_payment.json").read_text())
    api["body"] = record["body"]
    key = record["messageAttributes"]["Idempotency-Key"]["stringValue"]
    api["headers"]["Idempotency-Key"] = f'"{key}"'  # the header is a structured-field string
    api["multiValueHeaders"]["Idempotency-Key"] = [f'"{key}"']
    assert api["requestContext"]["identity"]["userArn"] == record["messageAttributes"]["Merchant-Id"]["stringValue"]
    (tmp_path / "api.json").write_text(json.dumps(api))
    queue_first = make_invoke_paths(EVENTS / "sqs_payment_request.json", tmp_path / "api.json")
    assert queue_first[0] == {"batchItemFailures": []}
    assert queue_first[1]["statusCode"] == 201
    assert queue_first[1]["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    [alone] = make_invoke_paths(tmp_path / "api.json")
    assert "Idempotent-Replayed" not in alone["multiValueHeaders"]  # without the queue first: a new payment


def test_a_poison_event_is_parked_on_the_local_dead_letter_queue() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local.invoke", str(EVENTS / "sqs_poison_message.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    outcomes = [(log.get("message_id"), log.get("outcome"), log.get("reason")) for log in logs if "outcome" in log]
    assert ("5f1c0e52-0d7a-4c8e-9a51-000000000004", "dead_lettered", "invalid-request") in outcomes
    assert ("5f1c0e52-0d7a-4c8e-9a51-000000000005", "created", None) in outcomes


def test_events_in_sequence_show_replay_and_mismatch() -> None:
    responses = make_invoke("create_payment", "replay_payment", "key_reused_different_body", "decline", "decline")
    assert [r["statusCode"] for r in responses] == [201, 201, 422, 402, 402]
    assert responses[1]["body"] == responses[0]["body"]
    assert responses[1]["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    assert responses[4]["body"] == responses[3]["body"]


def test_a_chain_carries_the_ids_it_created_so_every_fixture_shows_its_route_working() -> None:
    chain = ("create_payment", "get_payment", "create_refund", "get_refund", "list_refunds", "get_payment")
    responses = make_invoke(*chain)
    assert [r["statusCode"] for r in responses] == [201, 200, 201, 200, 200, 200]
    payment, refund = json.loads(responses[0]["body"]), json.loads(responses[2]["body"])
    assert json.loads(responses[1]["body"]) == payment
    assert refund["payment_id"] == payment["id"]
    assert json.loads(responses[3]["body"]) == refund
    assert [r["id"] for r in json.loads(responses[4]["body"])["data"]] == [refund["id"]]
    assert json.loads(responses[5]["body"])["amount_refunded"] == refund["amount"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"httpMethod": "GET"}', "'path' missing"),
        ('{"Records": [{"eventSource": "aws:s3"}]}', "not an SQS message"),
        ('{"Records": []}', "non-empty list"),
    ],
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
    for target in ("run", "enqueue", "test", "invoke", "demo", "load", "dynamodb", "help"):
        assert f"make {target} " in out


def test_make_demo_shows_create_replay_mismatch_get_and_decline() -> None:
    lines = [line for line in make("demo").stdout.splitlines() if line.strip().startswith("->")]
    assert [line.split()[1] for line in lines] == ["201", "201", "422", "200", "402", "402"]
    created = lines[0].split()[2]
    assert lines[1].split()[2] == created and "Idempotent-Replayed: true" in lines[1]
    assert lines[3].split()[2] == created  # the GET finds the payment the first step made
    assert "idempotency-key-reused" in lines[2] and "Idempotent-Replayed: true" in lines[5]


def test_the_webhook_fixture_goes_to_the_webhook_function_signed_afresh_and_a_stale_signature_is_refused(
    tmp_path: Path,
) -> None:
    [fresh] = make_invoke("stripe_webhook")
    assert json.loads(fresh["body"])["received"] is True
    # The same event with no signature header at all is not re-signed: refused, as from anyone but Stripe
    event = json.loads((EVENTS / "stripe_webhook.json").read_text())
    del event["headers"]["Stripe-Signature"]
    (tmp_path / "unsigned.json").write_text(json.dumps(event))
    [unsigned] = make_invoke_paths(tmp_path / "unsigned.json")
    assert unsigned["statusCode"] == 400
    assert unsigned["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
