"""GET /payments (newest first, through the merchant index) and GET /payments/{id}/refunds (oldest first):
pages, cursors, limits, tenant isolation, and tampered cursors that must be 400 problems, never 500s."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.support import list_payments_event, list_refunds_event, payment_event, refund_event, unique, visa

PROBLEM = "urn:idempotent-payments:problem:"


def _merchant() -> str:
    return f"arn:aws:iam::111111111111:user/{unique('m')}"


def _ok(response: dict[str, Any]) -> dict[str, Any]:
    assert response["statusCode"] == 200, response
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    page: dict[str, Any] = json.loads(response["body"])
    assert set(page) == {"data", "has_more", "next_cursor"}
    assert page["has_more"] is (page["next_cursor"] is not None)
    return page


def _problem(response: dict[str, Any], status: int, slug: str) -> dict[str, Any]:
    assert response["statusCode"] == status, response
    body: dict[str, Any] = json.loads(response["body"])
    assert body["type"] == PROBLEM + slug, body
    return body


def _pay(invoke: Any, clock: Any, merchant: str, count: int) -> list[str]:
    ids = []
    for i in range(count):
        clock.advance(7)  # distinct creation times
        created = invoke(payment_event(unique("k"), visa(100 + i), merchant=merchant))
        ids.append(json.loads(created["body"])["id"])
    return ids


def _walk(invoke: Any, event_for: Any, limit: int) -> tuple[list[str], list[dict[str, Any]]]:
    seen, pages, cursor = [], [], None
    while True:
        query = {"limit": str(limit)} | ({"starting_after": cursor} if cursor else {})
        page = _ok(invoke(event_for(**query)))
        pages.append(page)
        seen += [item["id"] for item in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, pages
        assert len(pages) < 50, "the cursor never ends"


def test_payments_are_listed_newest_first_in_pages_that_end_exactly(invoke: Any, clock: Any) -> None:
    who = _merchant()
    created = _pay(invoke, clock, who, 7)
    # When walked 3 at a time
    seen, pages = _walk(invoke, lambda **q: list_payments_event(who, **q), 3)
    # Then every payment once, newest first, and the last page says there is no more (no empty page)
    assert seen == list(reversed(created))
    assert [len(p["data"]) for p in pages] == [3, 3, 1]
    # And a page of exactly what remains has has_more false
    seen_by_7, pages_by_7 = _walk(invoke, lambda **q: list_payments_event(who, **q), 7)
    assert seen_by_7 == seen and len(pages_by_7) == 1
    # And each item is the payment as GET shows it
    first = pages[0]["data"][0]
    assert set(first) == {
        "id",
        "amount",
        "amount_refunded",
        "currency",
        "status",
        "description",
        "metadata",
        "created_at",
        "processor_payment_id",
    }


def test_a_merchant_lists_only_its_own_payments_and_the_default_page_is_ten(invoke: Any, clock: Any) -> None:
    who, other = _merchant(), _merchant()
    mine = _pay(invoke, clock, who, 12)
    _pay(invoke, clock, other, 2)
    page = _ok(invoke(list_payments_event(who)))
    assert [p["id"] for p in page["data"]] == list(reversed(mine))[:10] and page["has_more"] is True
    # Another merchant's cursor used by me starts within my own list, never within theirs
    theirs = _ok(invoke(list_payments_event(other, limit="1")))
    assert theirs["next_cursor"] is not None
    mine_from_theirs = _ok(invoke(list_payments_event(who, limit="100", starting_after=theirs["next_cursor"])))
    assert {p["id"] for p in mine_from_theirs["data"]} <= set(mine)
    assert _ok(invoke(list_payments_event(_merchant()))) == {"data": [], "has_more": False, "next_cursor": None}


def test_refunds_are_listed_oldest_first_with_cursors(invoke: Any, clock: Any) -> None:
    who = _merchant()
    pid = json.loads(invoke(payment_event(unique("k"), visa(1000), merchant=who))["body"])["id"]
    refunds = []
    for amount in (100, 200, 300, 50, 25):
        clock.advance(11)
        made = invoke(refund_event(pid, unique("r"), {"amount": amount}, merchant=who))
        refunds.append(json.loads(made["body"])["id"])
    seen, pages = _walk(invoke, lambda **q: list_refunds_event(pid, who, **q), 2)
    assert seen == refunds
    assert [len(p["data"]) for p in pages] == [2, 2, 1]
    assert sum(r["amount"] for p in pages for r in p["data"]) == 675
    assert _problem(invoke(list_refunds_event(pid, _merchant())), 404, "not-found")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


TAMPERED = [
    "abc",
    "!!!!",
    "x" * 600,
    _b64("not json"),
    _b64("[]"),
    _b64("{}"),
    _b64('{"payment_id":"pay_000000000000000000000000"}'),
    _b64('{"payment_id":"pay_000000000000000000000000","created_at":"yesterday"}'),
    _b64('{"payment_id":"pay_0","created_at":"2026-01-01T00:00:00.000Z"}'),
    _b64('{"payment_id":1,"created_at":"2026-01-01T00:00:00.000Z"}'),
    _b64('{"payment_id":"pay_000000000000000000000000","created_at":"2026-01-01T00:00:00.000Z","merchant_id":"x"}'),
    _b64('{"refund_id":"re_000000000000000000000000","created_at":"2026-01-01T00:00:00.000Z"}'),
]


@pytest.mark.parametrize("cursor", TAMPERED, ids=range(len(TAMPERED)))
def test_a_tampered_payments_cursor_is_a_400_problem(invoke: Any, cursor: str) -> None:
    _problem(invoke(list_payments_event(_merchant(), starting_after=cursor)), 400, "invalid-cursor")


def test_a_payments_cursor_is_not_a_refunds_cursor_and_the_reverse(invoke: Any, clock: Any) -> None:
    who = _merchant()
    _pay(invoke, clock, who, 2)
    payments_cursor = _ok(invoke(list_payments_event(who, limit="1")))["next_cursor"]
    pid = json.loads(invoke(payment_event(unique("k"), visa(1000), merchant=who))["body"])["id"]
    for amount in (1, 2):
        clock.advance(3)
        invoke(refund_event(pid, unique("r"), {"amount": amount}, merchant=who))
    refunds_cursor = _ok(invoke(list_refunds_event(pid, who, limit="1")))["next_cursor"]
    assert payments_cursor and refunds_cursor
    _problem(invoke(list_refunds_event(pid, who, starting_after=payments_cursor)), 400, "invalid-cursor")
    _problem(invoke(list_payments_event(who, starting_after=refunds_cursor)), 400, "invalid-cursor")


@pytest.mark.parametrize("limit", ["0", "101", "-1", "+5", " 5", "5.0", "1e1", "ten", "", "1000"])
def test_a_limit_outside_1_to_100_is_a_400_problem(invoke: Any, limit: str) -> None:
    body = _problem(invoke(list_payments_event(_merchant(), limit=limit)), 400, "invalid-request")
    assert body["errors"][0]["loc"] == ["query", "limit"]


def test_limits_1_and_100_are_accepted(invoke: Any) -> None:
    for limit in ("1", "100"):
        _ok(invoke(list_payments_event(_merchant(), limit=limit)))


def test_an_unknown_query_parameter_is_refused_without_echoing_it(invoke: Any) -> None:
    event = list_payments_event(_merchant(), limit="5")
    event["queryStringParameters"]["4242424242424242"] = "1"
    event["multiValueQueryStringParameters"]["4242424242424242"] = ["1"]
    response = invoke(event)
    body = _problem(response, 400, "invalid-request")
    assert body["errors"][0]["loc"] == ["query", "*"] and "4242" not in response["body"]
