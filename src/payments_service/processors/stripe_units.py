"""Amounts between the API's ISO 4217 minor units and Stripe's own (https://docs.stripe.com/currencies).

Stripe's exponent differs from ISO 4217's for a few currencies, and some Stripe amounts must be round:
- zero-decimal at Stripe: BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND VUV XAF XOF XPF (MGA is 2 in ISO);
- three-decimal at Stripe: BHD JOD KWD OMR TND, whose last digit must be 0;
- ISK and UGX (0 in ISO) are two-decimal at Stripe, with amounts divisible by 100 (whole units);
- IQD and LYD (3 in ISO) are two-decimal at Stripe;
- everything else is two-decimal (HUF and TWD included: their round-amount rule is for payouts only).
Stripe's docs list these by hand; no library carries them, hence this table.
"""

from __future__ import annotations

from ..domain.processor import InvalidPaymentRequest
from ..models.currencies import MINOR_UNIT_EXPONENTS

ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
NOT_REPRESENTABLE = "amount_not_representable"  # the code of the 400 when Stripe cannot hold the amount


def stripe_exponent(currency: str) -> int:
    code = currency.upper()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def to_stripe(amount: int, currency: str) -> int:
    """`amount` (ISO minor units) in Stripe's units. InvalidPaymentRequest("amount_not_representable",
    "amount") when Stripe cannot charge exactly that amount: nothing is rounded, ever."""
    shift = stripe_exponent(currency) - MINOR_UNIT_EXPONENTS[currency.upper()]
    if shift >= 0:
        converted = amount * _power(shift)
    elif amount % _power(-shift):
        raise InvalidPaymentRequest(NOT_REPRESENTABLE, "amount")
    else:
        converted = amount // _power(-shift)
    if currency.upper() in THREE_DECIMAL and converted % 10:
        raise InvalidPaymentRequest(NOT_REPRESENTABLE, "amount")
    return converted


def from_stripe(amount: int, currency: str) -> int:
    """A Stripe amount in ISO minor units (Stripe's amounts for our objects always convert exactly)."""
    shift = stripe_exponent(currency) - MINOR_UNIT_EXPONENTS[currency.upper()]
    return amount // _power(shift) if shift >= 0 else amount * _power(-shift)


def _power(digits: int) -> int:
    return int(10**digits)
