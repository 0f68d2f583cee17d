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


@dataclass(frozen=True)
class Charged:
    """The processor holds a charge made under the reference."""

    charge: Charge


@dataclass(frozen=True)
class NotCharged:
    """The processor holds no charge under the reference (for a processor whose search is eventually
    consistent, only trustworthy for references older than its indexing delay)."""


@dataclass(frozen=True)
class Unknown:
    """The processor could not say (unreachable, or the charge is still being processed)."""


Lookup = Charged | NotCharged | Unknown


class PaymentProcessor(Protocol):
    def charge(self, *, reference: str, amount: int, currency: str, source: str) -> Charge:
        """Charge once per `reference`: the same reference always yields the same charge."""

    def find(self, reference: str) -> Lookup:
        """What the processor holds under `reference`: how a recovery learns whether a lost charge happened."""
