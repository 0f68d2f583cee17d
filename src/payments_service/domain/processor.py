"""The payment-processor port: what the use cases need from whoever moves the money."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Charge:
    id: str


class Declined(Exception):
    def __init__(self, decline_code: str) -> None:
        super().__init__(decline_code)
        self.decline_code = decline_code


class ProcessorUnavailable(Exception):
    """The processor could not be reached or failed; whether it charged is unknown."""


class InvalidPaymentSource(Exception):
    """The processor rejected the source outright; nothing was charged."""


class PaymentProcessor(Protocol):
    def charge(self, *, reference: str, amount: int, currency: str, source: str) -> Charge:
        """Charge once per `reference`: the same reference always yields the same charge."""
