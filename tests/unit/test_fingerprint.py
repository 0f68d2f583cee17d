from __future__ import annotations

import json

from payments_service.idempotency.fingerprint import canonical_json, fingerprint
from payments_service.logic.create_payment import idempotent_request
from payments_service.models.payments import CreatePaymentRequest


def _fp(text: str) -> str:
    return idempotent_request("merchant", "key", CreatePaymentRequest.model_validate_json(text)).fingerprint


def test_key_order_and_whitespace_do_not_matter() -> None:
    a = '{"amount": 100, "currency": "USD", "source": "tok_visa", "metadata": {"x": "1", "y": "2"}}'
    b = '{ "metadata":{"y":"2","x":"1"},"source":"tok_visa","currency":"USD","amount":100 }'
    assert _fp(a) == _fp(b)


def test_absent_and_null_optional_fields_are_the_same_request() -> None:
    assert _fp('{"amount":100,"currency":"USD","source":"tok_visa"}') == _fp(
        '{"amount":100,"currency":"USD","source":"tok_visa","description":null,"metadata":{}}'
    )


def test_any_changed_value_changes_the_fingerprint() -> None:
    base = {"amount": 100, "currency": "USD", "source": "tok_visa", "description": "d", "metadata": {"k": "v"}}
    changes = [("amount", 101), ("currency", "EUR"), ("source", "tok_mastercard"), ("description", "e")]
    fps = {_fp(json.dumps({**base, field: value})) for field, value in changes}
    fps.add(_fp(json.dumps({**base, "metadata": {"k": "w"}})))
    assert len(fps) == 5
    assert _fp(json.dumps(base)) not in fps


def test_the_operation_is_part_of_the_fingerprint() -> None:
    payload = canonical_json({"amount": 1})
    assert fingerprint("payments.create", payload) != fingerprint("refunds.create", payload)
    assert fingerprint("payments.create", payload) == fingerprint("payments.create", canonical_json({"amount": 1}))
