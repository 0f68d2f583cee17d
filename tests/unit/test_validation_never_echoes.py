"""Validation errors name the schema's own fields and rules, never anything the client sent."""

from __future__ import annotations

import json

import pytest

from payments_service.handlers.problems import problem_for
from payments_service.handlers.transport import InvalidBody, parse_body
from payments_service.models.payments import CreatePaymentRequest

CARD = "4242424242424242"


def _problem_text(body: str) -> str:
    with pytest.raises(InvalidBody) as caught:
        parse_body(CreatePaymentRequest, body)
    return problem_for(caught.value).body


@pytest.mark.parametrize(
    "body",
    [
        # a card number sent as an unknown field name
        json.dumps({"amount": 100, "currency": "USD", "source": "tok_visa", CARD: "x"}),
        # as a metadata key that breaks a rule (too long), and as a key whose value breaks one
        json.dumps({"amount": 100, "currency": "USD", "source": "tok_visa", "metadata": {CARD * 3: "v"}}),
        json.dumps({"amount": 100, "currency": "USD", "source": "tok_visa", "metadata": {CARD: 7}}),
        json.dumps({"amount": 100, "currency": "USD", "source": "tok_visa", "metadata": {CARD: "v" * 501}}),
        # as values of the wrong type or shape
        json.dumps({"amount": CARD, "currency": CARD, "source": "tok_visa"}),
        json.dumps({"amount": 100, "currency": "USD", "source": "tok_visa", "description": int(CARD)}),
        json.dumps([CARD]),
        json.dumps(CARD),
    ],
)
def test_a_card_number_anywhere_in_an_invalid_body_never_comes_back(body: str) -> None:
    text = _problem_text(body)
    assert CARD not in text and CARD[:6] not in text and CARD[-4:] not in text, text


def test_errors_still_say_which_declared_field_and_which_rule() -> None:
    problem = json.loads(_problem_text(json.dumps({"amount": 0, "currency": "USD", "source": "tok_visa", "x": 1})))
    locations = [e["loc"] for e in problem["errors"]]
    assert ["body", "amount"] in locations
    assert ["body", "[field 4]"] in locations  # an unknown field, by its position, not named
    assert all(e["msg"] for e in problem["errors"])


def _errors(body: object, model: type = CreatePaymentRequest) -> list[dict[str, object]]:
    with pytest.raises(InvalidBody) as caught:
        parse_body(model, json.dumps(body))
    return caught.value.errors


def test_messages_help_with_our_own_words_and_values_never_the_clients() -> None:
    from payments_service.models.refunds import CreateRefundRequest

    [currency] = _errors({"amount": 100, "currency": "XXX", "source": "tok_visa"})
    assert "ISO 4217" in str(currency["msg"]) and "XXX" not in str(currency["msg"])
    [reason] = _errors({"reason": "because"}, CreateRefundRequest)
    assert all(r in str(reason["msg"]) for r in ("duplicate", "fraudulent", "requested_by_customer"))
    assert "because" not in str(reason["msg"])
    [shape] = _errors([1])
    assert shape == {"loc": ["body"], "msg": "Input should be a JSON object"}  # no class names
    [value] = _errors({"amount": 100, "currency": "USD", "source": "tok_visa", "metadata": {"a": "b", CARD: 7}})
    assert value["loc"] == ["body", "metadata", "[field 2]"]
