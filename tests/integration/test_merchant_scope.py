"""MERCHANT_SCOPE applies to every route (issue 18.4): under "role" two sessions of one role are one merchant;
under "role-session" each session is its own, on every route alike."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import (
    get_event,
    get_refund_event,
    list_payments_event,
    list_refunds_event,
    payment_event,
    refund_event,
    unique,
    visa,
)


@pytest.fixture(params=["role", "role-session"])
def scope(request: Any, monkeypatch: Any, settings: Any) -> str:
    from payments_service import bootstrap

    scoped = settings.model_copy(update={"merchant_scope": request.param})
    monkeypatch.setattr(bootstrap, "settings", lambda: scoped)
    return str(request.param)


def _sessions() -> tuple[str, str]:
    role = f"arn:aws:sts::111111111111:assumed-role/{unique('Checkout')}"
    return f"{role}/alice", f"{role}/bob"


def _paid(invoke: Any, who: str) -> str:
    answer = invoke(payment_event(unique("k"), visa(), merchant=who))
    assert answer["statusCode"] == 201
    return str(json.loads(answer["body"])["id"])


def _refunded(invoke: Any, pid: str, who: str) -> dict[str, Any]:
    answer = invoke(refund_event(pid, unique("r"), {"amount": 100}, merchant=who))
    assert answer["statusCode"] == 201, answer["body"]
    return dict(json.loads(answer["body"]))


def test_post_payments_keys_belong_to_the_scope(invoke: Any, scope: str) -> None:
    alice, bob = _sessions()
    key = unique("k")
    first = invoke(payment_event(key, visa(), merchant=alice))
    again = invoke(payment_event(key, visa(), merchant=bob))
    from tests.proof.oracle import Answer

    assert Answer.of(again).replayed is (scope == "role")
    assert (json.loads(first["body"])["id"] == json.loads(again["body"])["id"]) is (scope == "role")


def test_get_payment_follows_the_scope(invoke: Any, scope: str) -> None:
    alice, bob = _sessions()
    pid = _paid(invoke, alice)
    assert invoke(get_event(pid, alice))["statusCode"] == 200
    assert invoke(get_event(pid, bob))["statusCode"] == (200 if scope == "role" else 404)


def test_list_payments_follows_the_scope(invoke: Any, scope: str) -> None:
    alice, bob = _sessions()
    pid = _paid(invoke, alice)
    mine = [p["id"] for p in json.loads(invoke(list_payments_event(alice))["body"])["data"]]
    theirs = [p["id"] for p in json.loads(invoke(list_payments_event(bob))["body"])["data"]]
    assert mine == [pid]
    assert theirs == ([pid] if scope == "role" else [])


def test_post_refund_follows_the_scope(invoke: Any, scope: str) -> None:
    alice, bob = _sessions()
    pid = _paid(invoke, alice)
    _refunded(invoke, pid, alice)  # a session can always refund its own payment
    other = invoke(refund_event(pid, unique("r"), {"amount": 100}, merchant=bob))
    assert other["statusCode"] == (201 if scope == "role" else 404)


def test_list_refunds_follows_the_scope(invoke: Any, scope: str) -> None:
    alice, bob = _sessions()
    pid = _paid(invoke, alice)
    refund = _refunded(invoke, pid, alice)
    assert [r["id"] for r in json.loads(invoke(list_refunds_event(pid, alice))["body"])["data"]] == [refund["id"]]
    assert invoke(list_refunds_event(pid, bob))["statusCode"] == (200 if scope == "role" else 404)


def test_get_refund_follows_the_scope(invoke: Any, scope: str) -> None:
    alice, bob = _sessions()
    pid = _paid(invoke, alice)
    refund = _refunded(invoke, pid, alice)
    assert invoke(get_refund_event(pid, refund["id"], alice))["statusCode"] == 200
    assert invoke(get_refund_event(pid, refund["id"], bob))["statusCode"] == (200 if scope == "role" else 404)
