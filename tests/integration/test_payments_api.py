"""The API through the real Lambda handler, events from events/, tables from template.yaml."""

from __future__ import annotations

import json
import threading
from typing import Any

from payments_service.idempotency.keys import record_id
from tests.support import get_event, load_event, payment_event, unique, visa

PROBLEM = "application/problem+json"


def _header(response: dict[str, Any], name: str) -> str | None:
    values = (response.get("multiValueHeaders") or {}).get(name) or []
    return values[0] if values else (response.get("headers") or {}).get(name)


def _problem(response: dict[str, Any], status: int, slug: str) -> dict[str, Any]:
    assert response["statusCode"] == status, response
    assert _header(response, "Content-Type") == PROBLEM
    body = json.loads(response["body"])
    assert body["type"] == f"urn:idempotent-payments:problem:{slug}"
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def _merchant() -> str:
    return f"arn:aws:iam::111111111111:user/{unique('m')}"


def test_create_returns_201_with_location_and_the_payment(invoke: Any) -> None:
    merchant = _merchant()
    response = invoke(payment_event(unique("k"), visa(1234, metadata={"order": "7"}), merchant=merchant))
    assert response["statusCode"] == 201
    payment = json.loads(response["body"])
    assert payment["id"].startswith("pay_") and payment["status"] == "succeeded"
    assert (payment["amount"], payment["currency"], payment["metadata"]) == (1234, "USD", {"order": "7"})
    assert payment["created_at"].endswith("Z")
    assert _header(response, "Location") == f"/payments/{payment['id']}"
    assert _header(response, "Idempotent-Replayed") is None


def test_replay_returns_the_recorded_bytes_marked_replayed(invoke: Any) -> None:
    event = payment_event(unique("k"), visa(), merchant=_merchant())
    first = invoke(event)
    again = invoke(event)
    assert (again["statusCode"], again["body"]) == (first["statusCode"], first["body"])
    assert _header(again, "Location") == _header(first, "Location")
    assert _header(again, "Idempotent-Replayed") == "true"


def test_key_order_and_whitespace_do_not_make_a_different_request(invoke: Any) -> None:
    key, merchant = unique("k"), _merchant()
    first = invoke(payment_event(key, raw_body='{"amount":5,"currency":"USD","source":"tok_visa"}', merchant=merchant))
    again = invoke(
        payment_event(key, raw_body='{ "source" : "tok_visa", "currency":"USD", "amount": 5 }', merchant=merchant)
    )
    assert again["body"] == first["body"] and _header(again, "Idempotent-Replayed") == "true"


def test_same_key_with_another_body_is_422_and_changes_nothing(invoke: Any) -> None:
    key, merchant = unique("k"), _merchant()
    first = invoke(payment_event(key, visa(100), merchant=merchant))
    _problem(invoke(payment_event(key, visa(200), merchant=merchant)), 422, "idempotency-key-reused")
    assert invoke(payment_event(key, visa(100), merchant=merchant))["body"] == first["body"]


def test_missing_and_malformed_keys_are_400_and_not_recorded(invoke: Any, dynamodb: Any, settings: Any) -> None:
    merchant = _merchant()
    _problem(invoke(payment_event(None, visa(), merchant=merchant)), 400, "missing-idempotency-key")
    _problem(invoke(payment_event("has space", visa(), merchant=merchant)), 400, "invalid-idempotency-key")
    item = dynamodb.client.get_item(
        TableName=settings.idempotency_table, Key={"id": {"S": record_id(merchant, "has space")}}
    )
    assert "Item" not in item


def test_a_key_repeated_with_equal_values_is_one_key_and_different_values_are_400(invoke: Any) -> None:
    key, merchant = unique("k"), _merchant()
    event = payment_event(key, visa(), merchant=merchant)
    event["multiValueHeaders"]["Idempotency-Key"] = [key, f'"{key}"']
    assert invoke(event)["statusCode"] == 201
    event["multiValueHeaders"]["Idempotency-Key"] = [key, unique("k")]
    _problem(invoke(event), 400, "invalid-idempotency-key")


def test_invalid_body_is_400_and_the_key_stays_free(invoke: Any) -> None:
    key, merchant = unique("k"), _merchant()
    body = _problem(
        invoke(payment_event(key, {"amount": "10", "currency": "usd"}, merchant=merchant)), 400, "invalid-request"
    )
    assert {tuple(e["loc"]) for e in body["errors"]} >= {("body", "amount"), ("body", "currency"), ("body", "source")}
    assert "10" not in json.dumps(body["errors"])  # inputs are not echoed back
    assert invoke(payment_event(key, visa(), merchant=merchant))["statusCode"] == 201


def test_decline_is_402_recorded_and_replayed(invoke: Any, processor: Any) -> None:
    event = payment_event(unique("k"), visa(source="tok_insufficientFunds"), merchant=_merchant())
    first = invoke(event)
    assert _problem(first, 402, "card-declined")["decline_code"] == "insufficient_funds"
    calls = processor.calls
    again = invoke(event)
    assert again["body"] == first["body"] and _header(again, "Idempotent-Replayed") == "true"
    assert processor.calls == calls  # a replay never reaches the processor


def test_unknown_source_is_400_and_the_key_is_forgotten(invoke: Any) -> None:
    key, merchant = unique("k"), _merchant()
    _problem(invoke(payment_event(key, visa(source="tok_unknown"), merchant=merchant)), 400, "invalid-payment-source")
    assert invoke(payment_event(key, visa(amount=7), merchant=merchant))["statusCode"] == 201


def test_transient_processor_failure_is_503_and_the_key_can_be_retried(invoke: Any, processor: Any) -> None:
    key, merchant = unique("k"), _merchant()
    failing = payment_event(key, visa(source="tok_processingError"), merchant=merchant)
    response = invoke(failing)
    _problem(response, 503, "service-unavailable")
    assert int(_header(response, "Retry-After") or 0) >= 1
    # The processor recovers: the same request now goes through, exactly once.
    processor_charge = processor.charge

    def recovered(**kwargs: Any) -> Any:
        return processor_charge(**{**kwargs, "source": "tok_visa"})

    processor.charge = recovered
    created = invoke(failing)
    assert created["statusCode"] == 201
    assert invoke(failing)["body"] == created["body"]
    assert len(processor.charges) == 1


def test_in_flight_duplicate_is_409_with_retry_after(invoke: Any, processor: Any) -> None:
    event = payment_event(unique("k"), visa(source="tok_slow"), merchant=_merchant())
    results: list[dict[str, Any]] = []
    first = threading.Thread(target=lambda: results.append(invoke(event)))
    entered, release = threading.Event(), threading.Event()
    processor._sleep = lambda seconds: (entered.set(), release.wait(10))  # hold the first request mid-charge
    first.start()
    assert entered.wait(5)
    conflict = invoke(event)
    release.set()
    first.join()
    _problem(conflict, 409, "idempotency-key-in-use")
    assert 1 <= int(_header(conflict, "Retry-After") or 0) <= 20
    assert results[0]["statusCode"] == 201


def test_merchants_never_see_each_others_keys_or_payments(invoke: Any) -> None:
    key, alice, bob = unique("k"), _merchant(), _merchant()
    a = invoke(payment_event(key, visa(100), merchant=alice))
    b = invoke(payment_event(key, visa(100), merchant=bob))
    assert b["statusCode"] == 201 and _header(b, "Idempotent-Replayed") is None
    assert json.loads(a["body"])["id"] != json.loads(b["body"])["id"]
    # A different body under the same key is no mismatch for another merchant either.
    assert invoke(payment_event(key, visa(999), merchant=_merchant()))["statusCode"] == 201
    a_id = json.loads(a["body"])["id"]
    assert invoke(get_event(a_id, merchant=alice))["statusCode"] == 200
    _problem(invoke(get_event(a_id, merchant=bob)), 404, "not-found")


def test_a_new_session_of_the_same_role_replays(invoke: Any) -> None:
    key, role = unique("k"), f"arn:aws:sts::123456789012:assumed-role/{unique('Role')}"
    first = invoke(payment_event(key, visa(), merchant=f"{role}/session-1"))
    again = invoke(payment_event(key, visa(), merchant=f"{role}/session-2"))
    assert again["body"] == first["body"] and _header(again, "Idempotent-Replayed") == "true"


def test_get_returns_the_payment_and_404_otherwise(invoke: Any) -> None:
    merchant = _merchant()
    created = json.loads(invoke(payment_event(unique("k"), visa(), merchant=merchant))["body"])
    found = invoke(get_event(created["id"], merchant=merchant))
    assert found["statusCode"] == 200 and json.loads(found["body"]) == created
    _problem(invoke(get_event("pay_000000000000000000000000", merchant=merchant)), 404, "not-found")
    _problem(invoke(get_event("../../etc", merchant=merchant)), 404, "not-found")
    _problem(invoke(get_event("pay_" + "0" * 300, merchant=merchant)), 404, "not-found")


def test_no_principal_is_401(invoke: Any) -> None:
    _problem(invoke(payment_event(unique("k"), visa(), merchant=None)), 401, "unauthenticated")


def test_committed_events_behave_as_documented(invoke: Any) -> None:
    # The events/ fixtures are what `sam local invoke -e` and `make invoke` use; run them in order.
    merchant = _merchant()

    def run(name: str) -> dict[str, Any]:
        event = load_event(name)
        event["requestContext"]["identity"]["userArn"] = merchant
        return invoke(event)

    created = run("create_payment")
    assert created["statusCode"] == 201
    replay = run("replay_payment")
    assert replay["body"] == created["body"] and _header(replay, "Idempotent-Replayed") == "true"
    _problem(run("key_reused_different_body"), 422, "idempotency-key-reused")
    _problem(run("missing_key"), 400, "missing-idempotency-key")
    _problem(run("malformed_key"), 400, "invalid-idempotency-key")
    _problem(run("invalid_body"), 400, "invalid-request")
    _problem(run("decline"), 402, "card-declined")
    _problem(run("get_payment"), 404, "not-found")
