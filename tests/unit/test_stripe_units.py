"""Amounts in Stripe's units (finding 18.3), each special case of https://docs.stripe.com/currencies checked
against figures written here from Stripe's page, not computed from the adapter's table."""

from __future__ import annotations

import pytest

from payments_service.domain.processor import InvalidPaymentRequest
from payments_service.processors.stripe_units import NOT_REPRESENTABLE, from_stripe, to_stripe

# (currency, an API amount in ISO minor units, what Stripe must be sent for it)
CASES = [
    ("USD", 1050, 1050),  # 10.50: both two-decimal
    ("JPY", 500, 500),  # ¥500: zero-decimal in both
    ("KRW", 10000, 10000),
    ("ISK", 1500, 150000),  # 1,500 kr: ISO 0 decimals, Stripe two-decimal -> x100
    ("UGX", 2000, 200000),  # the same special case as ISK
    ("HUF", 123456, 123456),  # 1,234.56 Ft: two-decimal for charges (round amounts only for payouts)
    ("TWD", 10001, 10001),
    ("BHD", 1230, 1230),  # 1.230 BD: three-decimal in both, last digit 0
    ("KWD", 5000, 5000),
    ("MGA", 150000, 1500),  # 1,500 Ar: ISO 2 decimals, Stripe zero-decimal -> /100
    ("IQD", 25000, 2500),  # 25 IQD: ISO 3 decimals, Stripe two-decimal -> /10
]


@pytest.mark.parametrize(("currency", "ours", "stripes"), CASES)
def test_each_special_case_is_converted_exactly_both_ways(currency: str, ours: int, stripes: int) -> None:
    assert to_stripe(ours, currency) == stripes
    assert to_stripe(ours, currency.lower()) == stripes
    assert from_stripe(stripes, currency) == ours


@pytest.mark.parametrize(
    ("currency", "amount"),
    [
        ("BHD", 1235),  # 1.235 BD: Stripe's three-decimal amounts must end in 0
        ("JOD", 1),
        ("MGA", 150050),  # 1,500.50 Ar: Stripe has no fraction of an ariary
        ("IQD", 25005),  # 25.005 IQD: Stripe holds two decimals only
    ],
)
def test_an_amount_stripe_cannot_hold_is_refused_naming_the_amount_never_rounded(currency: str, amount: int) -> None:
    with pytest.raises(InvalidPaymentRequest) as refused:
        to_stripe(amount, currency)
    assert (refused.value.param, refused.value.code) == ("amount", NOT_REPRESENTABLE)
