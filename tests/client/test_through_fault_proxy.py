"""Against the local server through a fault proxy: every operation ends exactly once, with the client
alone doing the retrying (the proxy never retries, it only loses requests and answers)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import payments_client as pc
import pytest

from local import fault_proxy as fp
from local.fault_proxy import FaultProxy
from tests.e2e.conftest import LocalServer

FAST = pc.Backoff(base=0.05, cap=0.2)


def client(proxy: FaultProxy, merchant: dict[str, str], **options: Any) -> pc.Client:
    options.setdefault("backoff", FAST)
    options.setdefault("timeout", 5.0)
    return pc.Client(proxy.url, headers=merchant, **options)


def upstream_answers(proxy: FaultProxy, key: str | None) -> list[int | None]:
    return [s.upstream_status for s in proxy.seen if s.idempotency_key == key]


def payments_of(server: LocalServer, merchant: dict[str, str]) -> list[pc.Payment]:
    with pc.Client(server.base, headers=merchant) as direct:  # no proxy: the truth
        return list(direct.list_payments(limit=100))


def pay(c: pc.Client, **overrides: Any) -> pc.Payment:
    return c.create_payment(**{"amount": 1000, "currency": "USD", "source": "tok_visa", **overrides})


def test_dropped_request_is_sent_again_and_charges_once(
    server: LocalServer, proxy: FaultProxy, merchant: dict[str, str]
) -> None:
    assert "processor: sandbox" in server.log_text()  # the banner says who charges
    proxy.plan(fp.DROP_REQUEST, fp.DROP_REQUEST)
    with client(proxy, merchant) as c:
        payment = pay(c)
    assert upstream_answers(proxy, payment.idempotency_key) == [None, None, 201]
    assert not payment.replayed  # the server never saw the first two
    assert [p.id for p in payments_of(server, merchant)] == [payment.id]


def test_answer_dropped_after_the_server_committed_is_replayed(
    server: LocalServer, proxy: FaultProxy, merchant: dict[str, str]
) -> None:
    proxy.plan(fp.DROP_ANSWER)
    with client(proxy, merchant) as c:
        payment = pay(c)
    assert upstream_answers(proxy, payment.idempotency_key) == [201, 201]
    assert payment.replayed and payment.status == "succeeded"
    assert [p.id for p in payments_of(server, merchant)] == [payment.id]


def test_answer_held_past_the_timeout_then_in_flight_409_then_replay(
    server: LocalServer, proxy: FaultProxy, merchant: dict[str, str]
) -> None:
    # tok_slow takes 2 s: the client gives up on the first attempt after 0.5 s, its retry finds the
    # first still running (the server's own 409 + Retry-After), and a later one gets the replay.
    proxy.plan(fp.hold(3.0))
    reports: list[pc.AttemptReport] = []
    with client(proxy, merchant, timeout=0.5, on_attempt=reports.append) as c:
        payment = pay(c, source="tok_slow")
    answers = upstream_answers(proxy, payment.idempotency_key)
    assert 409 in answers and answers[-1] == 201 and payment.replayed
    assert reports[0].status is None and reports[0].error == "ReadTimeout"
    in_flight = next(r for r in reports if r.status == 409)
    assert in_flight.wait == 1.0  # the server's Retry-After, honoured
    assert [p.id for p in payments_of(server, merchant)] == [payment.id]


def test_503_with_retry_after_is_honoured(server: LocalServer, proxy: FaultProxy, merchant: dict[str, str]) -> None:
    proxy.plan(fp.problem(503, "service-unavailable", retry_after="1"))
    started = time.monotonic()
    with client(proxy, merchant) as c:
        payment = pay(c)
    assert time.monotonic() - started >= 1.0
    assert upstream_answers(proxy, payment.idempotency_key) == [None, 201]
    assert [p.id for p in payments_of(server, merchant)] == [payment.id]


def test_injected_409_in_flight_is_waited_out(server: LocalServer, proxy: FaultProxy, merchant: dict[str, str]) -> None:
    proxy.plan(fp.problem(409, "idempotency-key-in-use", retry_after="1"), fp.DROP_ANSWER)
    with client(proxy, merchant) as c:
        payment = pay(c)
    assert upstream_answers(proxy, payment.idempotency_key) == [None, 201, 201]
    assert payment.replayed
    assert [p.id for p in payments_of(server, merchant)] == [payment.id]


def test_refund_through_lost_answers_refunds_once(
    server: LocalServer, proxy: FaultProxy, merchant: dict[str, str]
) -> None:
    with client(proxy, merchant) as c:
        payment = pay(c)
        proxy.plan(fp.DROP_ANSWER, fp.DROP_REQUEST)
        refund = c.create_refund(payment.id, amount=400)
        assert refund.replayed and refund.amount == 400
        assert upstream_answers(proxy, refund.idempotency_key) == [201, None, 201]
        assert [r.id for r in c.list_refunds(payment.id)] == [refund.id]
        assert c.get_refund(payment.id, refund.id).amount == 400
        assert c.get_payment(payment.id).amount_refunded == 400


def test_key_reused_is_not_retried(proxy: FaultProxy, merchant: dict[str, str]) -> None:
    with client(proxy, merchant) as c:
        first = pay(c)
        with pytest.raises(pc.KeyReused) as raised:
            pay(c, amount=2000, idempotency_key=first.idempotency_key)
    assert raised.value.idempotency_key == first.idempotency_key and raised.value.status == 422
    assert upstream_answers(proxy, first.idempotency_key) == [201, 422]


def test_decline_is_not_retried(server: LocalServer, proxy: FaultProxy, merchant: dict[str, str]) -> None:
    with client(proxy, merchant) as c, pytest.raises(pc.Declined) as raised:
        pay(c, source="tok_chargeDeclined")
    assert raised.value.status == 402 and raised.value.decline_code
    assert upstream_answers(proxy, raised.value.idempotency_key) == [402]
    assert payments_of(server, merchant) == []


def test_deadline_is_honoured_when_every_answer_is_lost(proxy: FaultProxy, merchant: dict[str, str]) -> None:
    proxy.plan(*[fp.hold(2.0)] * 50)
    started = time.monotonic()
    with (
        client(proxy, merchant, timeout=0.4, deadline=2.0, max_attempts=100) as c,
        pytest.raises(pc.RetriesExhausted) as raised,
    ):
        pay(c)
    elapsed = time.monotonic() - started
    assert elapsed < 2.5, elapsed
    assert raised.value.attempts >= 2 and isinstance(raised.value.last_error, httpx.TimeoutException)
    # Resuming later with the key from the error ends the same one operation.
    with client(proxy, merchant) as c:
        resumed = pay(c, idempotency_key=raised.value.idempotency_key)
    assert resumed.idempotency_key == raised.value.idempotency_key


def test_list_follows_the_cursor(server: LocalServer, proxy: FaultProxy, merchant: dict[str, str]) -> None:
    with client(proxy, merchant) as c:
        made = {pay(c).id for _ in range(3)}
        proxy.plan(fp.DROP_ANSWER)  # a lost page is fetched again
        listed = [p.id for p in c.list_payments(limit=2)]
    assert sorted(listed) == sorted(made) and len(listed) == 3


def test_async_client_through_a_lost_answer(server: LocalServer, proxy: FaultProxy, merchant: dict[str, str]) -> None:
    proxy.plan(fp.DROP_ANSWER, fp.DROP_REQUEST)

    async def run() -> pc.Payment:
        async with pc.AsyncClient(proxy.url, headers=merchant, backoff=FAST) as c:
            payment = await c.create_payment(amount=700, currency="EUR", source="tok_visa")
            assert (await c.get_payment(payment.id)).amount == 700
            return payment

    payment = asyncio.run(run())
    assert payment.replayed
    assert [p.id for p in payments_of(server, merchant)] == [payment.id]


def test_swallowed_answer_times_out_and_is_replayed(
    server: LocalServer, proxy: FaultProxy, merchant: dict[str, str]
) -> None:
    proxy.plan(fp.swallow(1.5))
    reports: list[pc.AttemptReport] = []
    with client(proxy, merchant, timeout=0.7, on_attempt=reports.append) as c:
        payment = pay(c)
    assert reports[0].error == "ReadTimeout" and payment.replayed
    assert upstream_answers(proxy, payment.idempotency_key) == [201, 201]
    assert [p.id for p in payments_of(server, merchant)] == [payment.id]


def test_make_demo_timeout_shows_exactly_once() -> None:
    import subprocess
    import sys

    from tests.e2e.conftest import ROOT

    done = subprocess.run(
        [sys.executable, "-m", "local.demo_timeout"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no answer (ReadTimeout)" in done.stdout and "replayed=True" in done.stdout
    assert "1 payment for this merchant; sandbox charges for it: 1" in done.stdout
