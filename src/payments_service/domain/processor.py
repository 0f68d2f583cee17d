"""The payment-processor port: what the use cases need from whoever moves the money.

Amounts crossing this port are ISO 4217 minor units, as the API takes them (ISK 0 decimals, BHD 3);
an adapter converts to and from its processor's own units, and refuses with InvalidPaymentRequest
(param "amount") an amount its processor cannot represent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .errors import Misconfigured, Refused, Transient

# A charge's life at the processor. "requires_action": the customer must act (3-D Secure) before the
# money moves; "failed": the last attempt failed (the customer may still try again); "succeeded" and
# "canceled" are final.
ChargeStatus = Literal["requires_action", "processing", "failed", "succeeded", "canceled"]
# A refund's life: "pending" may still fail; "succeeded" may still fail later (the bank returns it);
# "failed" and "canceled" are final and give the amount back.
RefundStatus = Literal["pending", "succeeded", "failed", "canceled"]


@dataclass(frozen=True)
class Charge:
    id: str  # the processor's own id for the payment (a Stripe PaymentIntent id, the sandbox's charge id)
    status: Literal["succeeded", "requires_action"] = "succeeded"
    # requires_action only: what the customer must do, as the processor describes it (JSON-able), and the
    # secret the merchant's page hands to the processor's browser SDK to do it (Stripe.js handleNextAction).
    next_action: Mapping[str, Any] | None = field(default=None, compare=False)
    client_secret: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ChargeState:
    """What the processor holds for a charge right now (a lookup, a cancel)."""

    id: str
    status: ChargeStatus
    decline_code: str | None = None  # failed: why


@dataclass(frozen=True)
class ProcessorRefund:
    id: str
    status: RefundStatus = "succeeded"
    failure_reason: str | None = None  # failed or canceled: why


class Declined(Refused):
    """The processor declined the charge (`decline_code` says why); nothing was charged."""

    def __init__(self, decline_code: str) -> None:
        super().__init__(decline_code)
        self.decline_code = decline_code


class ProcessorUnavailable(Transient):
    """The processor could not be reached or failed; whether it charged is unknown."""


class InvalidPaymentSource(Refused):
    """The processor rejected the source outright; nothing was charged."""


@dataclass(frozen=True)
class Charged:
    """The processor holds a charge made under the reference (succeeded, or awaiting the customer)."""

    charge: Charge


@dataclass(frozen=True)
class NotCharged:
    """The processor holds no charge under the reference, or only a declined one: nothing was charged.
    Only ever answered from a strongly consistent read (never from an eventually consistent search)."""


@dataclass(frozen=True)
class Unknown:
    """The processor could not say (unreachable, or the charge is still being processed)."""


Lookup = Charged | NotCharged | Unknown


@dataclass(frozen=True)
class Refunded:
    """The processor holds a refund made under the reference."""

    refund: ProcessorRefund


@dataclass(frozen=True)
class NotRefunded:
    """The processor holds no refund under the reference (a strongly consistent read)."""


RefundLookup = Refunded | NotRefunded | Unknown


class InvalidPaymentRequest(Refused):
    """The processor refused the amount or currency outright (e.g. below its minimum); nothing was charged."""

    def __init__(self, code: str, param: str) -> None:
        super().__init__(f"{param}: {code}")
        self.code = code
        self.param = param


class ProcessorMisconfigured(Misconfigured):
    """Our credentials were refused (authentication or permission): every payment fails until an operator acts."""


class ProcessorIdempotencyError(Misconfigured):
    """The processor saw our reference before with other parameters: a bug on our side. Nothing new was charged."""


class RefundRefused(Refused):
    """The processor refused the refund outright (disputed, too old...); nothing was refunded."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class PaymentProcessor(Protocol):
    """Every call may raise ProcessorUnavailable (outcome unknown) or ProcessorMisconfigured. `timeout_s`
    bounds the whole call, the processor's own retries included (None: its default)."""

    def charge(
        self,
        *,
        reference: str,
        amount: int,
        currency: str,
        source: str,
        timeout_s: float | None = None,
        customer: str | None = None,
        off_session: bool = False,
    ) -> Charge:
        """Charge once per `reference`: the same reference always yields the same charge.

        A charge that needs the customer (3-D Secure) comes back with status requires_action, unless
        `off_session` (no customer present: the queue), where it is Declined("authentication_required").
        Declined, InvalidPaymentSource or InvalidPaymentRequest: nothing was charged.
        """

    def refund(
        self,
        *,
        reference: str,
        charge_id: str,
        amount: int,
        currency: str,
        payment_id: str | None = None,
        timeout_s: float | None = None,
    ) -> ProcessorRefund:
        """Refund `amount` of the charge once per `reference` (the same reference yields the same refund), with
        its status (pending or succeeded). `payment_id` (ours) travels with the refund so that the
        processor's events about it can be matched. RefundRefused when refused for good."""

    def find(self, reference: str, *, not_before_ms: int | None = None, timeout_s: float | None = None) -> Lookup:
        """What the processor holds under `reference`, from a strongly consistent read: how a recovery learns
        whether a lost charge happened. `not_before_ms`: the reference was minted then (no charge under it
        can be older, give or take clock skew); None: unknown."""

    def find_refund(
        self, *, reference: str, charge_id: str, not_before_ms: int | None = None, timeout_s: float | None = None
    ) -> RefundLookup:
        """The refund of `charge_id` made under `reference`, from a strongly consistent read."""

    def charge_state(self, charge_id: str, *, timeout_s: float | None = None) -> ChargeState:
        """The charge as the processor holds it now."""

    def cancel(self, charge_id: str, *, timeout_s: float | None = None) -> ChargeState:
        """Cancel a charge still awaiting its customer; the state after the call (a charge that succeeded or was
        canceled meanwhile is answered as it is, not refused)."""

    def refund_state(self, refund_id: str, *, timeout_s: float | None = None) -> ProcessorRefund:
        """The refund as the processor holds it now."""
