"""Stripe's currency rules, from https://docs.stripe.com/currencies (not from the adapter's table): which
currencies the double charges in, and which amounts Stripe refuses."""

from __future__ import annotations

# A sample of Stripe's presentment currencies, every special case included.
CURRENCIES = frozenset(
    {"usd", "eur", "gbp", "chf", "cad", "aud", "huf", "twd", "isk", "ugx", "jpy", "krw", "clp", "vnd", "mga"}
    | {"xaf", "xof", "bhd", "jod", "kwd", "omr", "tnd", "iqd"}
)
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "vnd", "vuv"})
ZERO_DECIMAL |= {"xaf", "xof", "xpf"}
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})  # the last digit must be 0
WHOLE_UNITS = frozenset({"isk", "ugx"})  # two-decimal in the API, but only whole units: divisible by 100


def refusal(amount: int, currency: str) -> str | None:
    """Why Stripe refuses `amount` (in Stripe's units) of `currency`, or None."""
    if currency in THREE_DECIMAL and amount % 10:
        return "Amounts in three-decimal currencies must end in 0"
    if currency in WHOLE_UNITS and amount % 100:
        return f"Amounts in {currency.upper()} must be divisible by 100"
    return None
