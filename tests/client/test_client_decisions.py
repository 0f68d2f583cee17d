"""The client's decisions against scripted answers (httpx.MockTransport: no sockets): what it retries,
with which key and bytes, how long it waits, and what it raises."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import payments_client as pc
import pytest
from payments_client.retry import PROBLEM_BASE

PAYMENT = {"id": "pay_1", "amount": 1000, "currency": "USD", "status": "succeeded", "metadata": {}}


def problem(status: int, slug: str, **extra: Any) -> httpx.Response:
    body = {"type": PROBLEM_BASE + slug, "title": slug, "status": status, "detail": "d", **extra}
    headers = {"Content-Type": "application/problem+json"}
    if "retry_after" in extra:
        headers["Retry-After"] = str(body.pop("retry_after"))
    return httpx.Response(status, json=body, headers=headers)


class Script:
    """Answers in order (the last one repeats); keeps every request."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return answer(request) if callable(answer) else answer


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def client(script: Script, **options: Any) -> pc.Client:
    options.setdefault("backoff", pc.Backoff(base=0.01, cap=0.05))
    return pc.Client("http://api.test/v1", transport=httpx.MockTransport(script), **options)


def pay(c: pc.Client, **overrides: Any) -> pc.Payment:
    return c.create_payment(**{"amount": 1000, "currency": "USD", "source": "tok_visa", **overrides})


def test_transient_failures_are_retried_with_one_key_and_the_same_bytes() -> None:
    replay = httpx.Response(201, json=PAYMENT, headers={"Idempotent-Replayed": "true"})
    script = Script(timeout, problem(503, "service-unavailable"), problem(429, "throttled"), replay)
    payment = pay(client(script), metadata={"order": "1001"})
    assert payment.id == "pay_1" and payment.replayed
    keys = {r.headers["Idempotency-Key"] for r in script.requests}
    bodies = {r.content for r in script.requests}
    assert len(script.requests) == 4 and len(keys) == 1 and len(bodies) == 1
    assert payment.idempotency_key == keys.pop()
    assert json.loads(bodies.pop()) == {
        "amount": 1000,
        "currency": "USD",
        "source": "tok_visa",
        "metadata": {"order": "1001"},
    }
    assert {r.url.path for r in script.requests} == {"/v1/payments"}


def test_a_given_key_is_the_one_sent() -> None:
    script = Script(httpx.Response(201, json=PAYMENT))
    assert pay(client(script), idempotency_key="order-7").idempotency_key == "order-7"
    assert script.requests[0].headers["Idempotency-Key"] == "order-7"


def test_two_operations_get_two_keys() -> None:
    script = Script(httpx.Response(201, json=PAYMENT))
    c = client(script)
    assert pay(c).idempotency_key != pay(c).idempotency_key


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (problem(400, "invalid-request"), pc.InvalidRequest),
        (problem(401, "unauthenticated"), pc.Unauthenticated),
        (problem(403, "access-denied"), pc.Unauthenticated),
        (problem(404, "not-found"), pc.NotFound),
        (problem(409, "refund-exceeds-payment", remaining_amount=600), pc.Conflict),
        (problem(422, "idempotency-key-reused"), pc.KeyReused),
        (problem(422, "idempotency-key-expired-at-processor"), pc.KeyExpiredAtProcessor),
        (problem(402, "card-declined", decline_code="insufficient_funds"), pc.Declined),
    ],
)
def test_final_answers_are_raised_after_one_attempt(answer: httpx.Response, error: type[pc.ApiError]) -> None:
    script = Script(answer)
    with pytest.raises(error) as raised:
        pay(client(script), idempotency_key="k-final")
    assert len(script.requests) == 1
    assert raised.value.idempotency_key == "k-final"
    assert raised.value.status == answer.status_code
    assert raised.value.type == answer.json()["type"] and raised.value.detail == "d"


def test_a_decline_carries_its_code_and_whether_it_was_replayed() -> None:
    declined = problem(402, "card-declined", decline_code="card_declined")
    declined.headers["Idempotent-Replayed"] = "true"
    with pytest.raises(pc.Declined) as raised:
        pay(client(Script(declined)), source="tok_chargeDeclined")
    assert raised.value.decline_code == "card_declined" and raised.value.replayed


def test_in_flight_409_waits_for_retry_after() -> None:
    script = Script(problem(409, "idempotency-key-in-use", retry_after=1), httpx.Response(201, json=PAYMENT))
    waits: list[float | None] = []
    started = time.monotonic()
    pay(client(script, on_attempt=lambda r: waits.append(r.wait)))
    assert time.monotonic() - started >= 1.0
    assert waits == [1.0, None]


def test_attempts_run_out_with_the_last_answer() -> None:
    script = Script(problem(503, "service-unavailable"))
    reports: list[pc.AttemptReport] = []
    with pytest.raises(pc.RetriesExhausted) as raised:
        pay(client(script, max_attempts=3, on_attempt=reports.append), idempotency_key="k-out")
    assert len(script.requests) == 3 and raised.value.attempts == 3
    assert raised.value.status == 503 and raised.value.type == PROBLEM_BASE + "service-unavailable"
    assert raised.value.idempotency_key == "k-out"
    assert [r.attempt for r in reports] == [1, 2, 3] and reports[-1].wait is None


def test_no_answer_at_all_is_retries_exhausted_with_the_transport_error() -> None:
    with pytest.raises(pc.RetriesExhausted) as raised:
        pay(client(Script(timeout), max_attempts=2))
    assert isinstance(raised.value.last_error, httpx.ReadTimeout) and raised.value.status is None


def test_a_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    script = Script(problem(503, "service-unavailable", retry_after=30))
    started = time.monotonic()
    with pytest.raises(pc.RetriesExhausted) as raised:
        pay(client(script, deadline=2.0))
    assert time.monotonic() - started < 1.0 and raised.value.attempts == 1


def test_the_deadline_caps_every_attempt_and_the_whole_operation() -> None:
    timeouts: list[float] = []

    def slow(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["read"])
        return problem(503, "service-unavailable")

    started = time.monotonic()
    with pytest.raises(pc.RetriesExhausted):
        pay(
            client(Script(slow), deadline=0.5, max_attempts=1000, timeout=10.0, backoff=pc.Backoff(base=0.05, cap=0.05))
        )
    assert time.monotonic() - started < 0.6
    assert max(timeouts) <= 0.5 and timeouts[-1] < timeouts[0]


def test_debug_log_per_attempt_names_the_key_hash_never_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="payments_client")
    pay(
        client(Script(problem(503, "service-unavailable"), httpx.Response(201, json=PAYMENT))),
        idempotency_key="secret-k",
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "payments_client"]
    assert len(lines) == 2
    assert "status 503" in lines[0] and "retrying in" in lines[0] and "status 201" in lines[1]
    assert all("secret-k" not in line and "key#" in line for line in lines)


def test_requires_action_is_a_status_with_what_the_customer_must_do() -> None:
    document = {
        **PAYMENT,
        "status": "requires_action",
        "next_action": {"type": "redirect_to_url"},
        "client_secret": "pi_s",
    }
    payment = pay(client(Script(httpx.Response(202, json=document))), source="tok_threeDSecureRequired")
    assert payment.requires_action and payment.next_action == {"type": "redirect_to_url"}
    assert payment.client_secret == "pi_s" and payment.status == "requires_action"


def test_lists_follow_the_cursor() -> None:
    pages = {
        None: {"data": [{**PAYMENT, "id": "pay_a"}, {**PAYMENT, "id": "pay_b"}], "has_more": True, "next_cursor": "c1"},
        "c1": {"data": [{**PAYMENT, "id": "pay_c"}], "has_more": False, "next_cursor": None},
    }
    script = Script(lambda r: httpx.Response(200, json=pages[r.url.params.get("starting_after")]))
    assert [p.id for p in client(script).list_payments(limit=2)] == ["pay_a", "pay_b", "pay_c"]
    assert [r.url.params.get("limit") for r in script.requests] == ["2", "2"]


def test_refunds_body_and_path() -> None:
    refund = {"id": "re_1", "payment_id": "pay_1", "amount": 400, "currency": "USD", "status": "succeeded"}
    script = Script(httpx.Response(201, json=refund))
    result = client(script).create_refund("pay_1", amount=400, idempotency_key="r-1")
    assert result.amount == 400 and result.idempotency_key == "r-1"
    assert script.requests[0].url.path == "/v1/payments/pay_1/refunds" and json.loads(script.requests[0].content) == {
        "amount": 400
    }


def test_async_client_retries_the_same_way() -> None:
    script = Script(timeout, problem(503, "service-unavailable"), httpx.Response(201, json=PAYMENT))

    async def run() -> pc.Payment:
        async with pc.AsyncClient(
            "http://api.test", transport=httpx.MockTransport(script), backoff=pc.Backoff(base=0.01, cap=0.02)
        ) as c:
            return await c.create_payment(amount=1000, currency="USD", source="tok_visa")

    payment = asyncio.run(run())
    assert len(script.requests) == 3 and len({r.headers["Idempotency-Key"] for r in script.requests}) == 1
    assert payment.idempotency_key == script.requests[0].headers["Idempotency-Key"]


def test_sigv4_signs_every_attempt_over_the_same_body() -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    credentials = Credentials("AKIDEXAMPLE", "secret", "token")
    script = Script(problem(503, "service-unavailable"), httpx.Response(201, json=PAYMENT))
    c = pc.Client(
        "https://abc123.execute-api.eu-west-1.amazonaws.com/v1",
        transport=httpx.MockTransport(script),
        auth=pc.SigV4(credentials=credentials),
        backoff=pc.Backoff(base=1.1, cap=1.1),  # X-Amz-Date has one-second resolution
    )
    pay(c)
    assert len(script.requests) == 2
    for sent in script.requests:
        assert "Credential=AKIDEXAMPLE/" in sent.headers["Authorization"]
        assert "/eu-west-1/execute-api/aws4_request" in sent.headers["Authorization"]
        assert (
            "SignedHeaders=content-type;host;idempotency-key;x-amz-date;x-amz-security-token"
            in sent.headers["Authorization"]
        )
        # Recompute the signature as API Gateway would, from what was sent.
        again = AWSRequest(
            method="POST",
            url=str(sent.url),
            data=sent.content,
            headers={
                k: sent.headers[k]
                for k in ("host", "content-type", "idempotency-key", "x-amz-date", "x-amz-security-token")
            },
        )
        signer = SigV4Auth(credentials, "execute-api", "eu-west-1")
        again.context["timestamp"] = sent.headers["x-amz-date"]
        expected = signer.signature(signer.string_to_sign(again, signer.canonical_request(again)), again)
        assert sent.headers["Authorization"].endswith(f"Signature={expected}")
