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


class _WithStatementDescriptor(CreatePaymentRequest):
    """The request model as a later deploy might extend it: one more optional field."""

    statement_descriptor: str | None = None


def test_adding_an_optional_field_keeps_every_existing_fingerprint() -> None:
    bodies = [
        '{"amount":100,"currency":"USD","source":"tok_visa"}',
        '{"amount":100,"currency":"USD","source":"tok_visa","description":"d","metadata":{"k":"v"}}',
    ]
    for body in bodies:
        before = idempotent_request("merchant", "key", CreatePaymentRequest.model_validate_json(body))
        after = idempotent_request("merchant", "key", _WithStatementDescriptor.model_validate_json(body))
        assert after.fingerprint == before.fingerprint
    # while a client that does send the new field is a different request
    sent = _WithStatementDescriptor.model_validate_json(
        '{"amount":100,"currency":"USD","source":"tok_visa","statement_descriptor":"SHOP"}'
    )
    assert idempotent_request("merchant", "key", sent).fingerprint != _fp(bodies[0])


def test_fingerprints_are_versioned() -> None:
    assert _fp('{"amount":100,"currency":"USD","source":"tok_visa"}').startswith("v2:")


def test_a_key_fingerprinted_before_versioning_still_matches_its_retry() -> None:
    # Keys claimed by the previous deploy hold sha256(operation \n model dump with defaults), unversioned.
    import hashlib

    request = CreatePaymentRequest.model_validate_json('{"amount":100,"currency":"USD","source":"tok_visa"}')
    old = hashlib.sha256(f"payments.create\n{canonical_json(request.model_dump(mode='json'))}".encode()).hexdigest()
    retry = idempotent_request("merchant", "key", request)
    assert retry.matches(old) and retry.matches(retry.fingerprint)
    other = CreatePaymentRequest.model_validate_json('{"amount":101,"currency":"USD","source":"tok_visa"}')
    assert not idempotent_request("merchant", "key", other).matches(old)
