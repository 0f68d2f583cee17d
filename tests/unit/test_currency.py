"""A payment's currency is a real ISO 4217 code that has a minor unit; the amount counts that unit."""

from __future__ import annotations

from typing import Any

import iso4217
import pytest
from pydantic import ValidationError

from payments_service.models.currencies import MINOR_UNIT_EXPONENTS
from payments_service.models.payments import CreatePaymentRequest


def _request(currency: str) -> dict[str, Any]:
    return {"amount": 1000, "currency": currency, "source": "tok_visa"}


@pytest.mark.parametrize("code", sorted(c.code for c in iso4217.Currency if c.exponent is not None))
def test_every_iso_4217_currency_with_a_minor_unit_is_accepted(code: str) -> None:
    assert CreatePaymentRequest.model_validate(_request(code)).currency == code


@pytest.mark.parametrize("code", ["XYZ", "ABC", "EUO", "QQQ"])
def test_a_three_letter_code_that_is_no_currency_is_rejected(code: str) -> None:
    with pytest.raises(ValidationError) as raised:
        CreatePaymentRequest.model_validate(_request(code))
    (error,) = raised.value.errors()
    assert error["loc"] == ("currency",)
    assert code not in error["msg"]  # the input is never echoed back


@pytest.mark.parametrize("code", sorted(c.code for c in iso4217.Currency if c.exponent is None))
def test_codes_without_a_minor_unit_are_rejected(code: str) -> None:
    # Gold, SDRs, bond units, the test code XTS and "no currency" XXX are in ISO 4217 but are not payable
    with pytest.raises(ValidationError):
        CreatePaymentRequest.model_validate(_request(code))


def test_the_exponents_are_iso_4217s() -> None:
    # Yen have no minor unit, dollars have cents, Bahraini dinars have fils (1/1000)
    assert (MINOR_UNIT_EXPONENTS["JPY"], MINOR_UNIT_EXPONENTS["USD"], MINOR_UNIT_EXPONENTS["BHD"]) == (0, 2, 3)
    assert set(MINOR_UNIT_EXPONENTS.values()) <= {0, 2, 3, 4}


def test_the_json_schema_lists_exactly_the_accepted_codes_with_their_exponents() -> None:
    schema = CreatePaymentRequest.model_json_schema()["properties"]["currency"]
    assert schema["enum"] == sorted(MINOR_UNIT_EXPONENTS)
    assert schema["x-minor-unit-exponents"] == MINOR_UNIT_EXPONENTS


def test_the_written_out_table_is_the_iso4217_packages() -> None:
    # models/currencies.py spares the cold start the package's XML parse; it must say what the package says
    assert {c.code: c.exponent for c in iso4217.Currency if c.exponent is not None} == MINOR_UNIT_EXPONENTS
