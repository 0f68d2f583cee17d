"""The payment-processor port: what the use cases need from whoever moves the money."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Charge:
    id: str  # the processor's own id for the payment (a Stripe PaymentIntent id, the sandbox's charge id)


@dataclass(frozen=True)
class ProcessorRefund:
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


class InvalidPaymentRequest(Exception):
    """The processor refused the amount or currency outright (e.g. below its minimum); nothing was charged."""

    def __init__(self, code: str, param: str) -> None:
        super().__init__(f"{param}: {code}")
        self.code = code
        self.param = param


class ProcessorMisconfigured(Exception):
    """Our credentials were refused (authentication or permission): every payment fails until an operator acts."""


class ProcessorIdempotencyError(Exception):
    """The processor saw our reference before with other parameters: a bug on our side. Nothing new was charged."""


class RefundRefused(Exception):
    """The processor refused the refund outright (disputed, too old...); nothing was refunded."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class PaymentProcessor(Protocol):
    def charge(
        self, *, reference: str, amount: int, currency: str, source: str, timeout_s: float | None = None
    ) -> Charge:
        """Charge once per `reference`: the same reference always yields the same charge.

        `timeout_s` bounds the whole call, the processor's own retries included (None: its default).
        """

    def refund(self, *, reference: str, charge_id: str, amount: int, currency: str) -> ProcessorRefund:
        """Refund `amount` of the charge once per `reference` (the same reference yields the same refund).

        RefundRefused when refused for good; ProcessorUnavailable when whether it refunded is unknown."""

    def find(self, reference: str) -> Lookup:
        """What the processor holds under `reference`: how a recovery learns whether a lost charge happened."""
