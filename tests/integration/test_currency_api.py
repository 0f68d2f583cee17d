"""Through the handler: a made-up currency is a 400 that leaves the key free; a zero-exponent one charges."""

from __future__ import annotations

import json
from typing import Any

from tests.support import payment_event, unique, visa


def test_a_currency_that_does_not_exist_is_400_and_the_key_stays_free(invoke: Any) -> None:
    key, merchant = unique("k"), f"arn:aws:iam::111111111111:user/{unique('m')}"
    # Given "XYZ": three upper-case letters, but no ISO 4217 currency
    response = invoke(payment_event(key, visa(currency="XYZ"), merchant=merchant))
    # Then it is rejected as an invalid request, naming the field but not echoing the value
    assert response["statusCode"] == 400, response
    body = json.loads(response["body"])
    assert body["type"] == "urn:idempotent-payments:problem:invalid-request"
    assert [tuple(e["loc"]) for e in body["errors"]] == [("body", "currency")]
    assert "XYZ" not in response["body"]
    # And the same key with a real currency (yen: amount in whole yen) then charges
    created = invoke(payment_event(key, visa(500, currency="JPY"), merchant=merchant))
    assert created["statusCode"] == 201, created
    assert json.loads(created["body"])["currency"] == "JPY"
