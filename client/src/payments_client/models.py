"""What the API answers, typed: a payment, a refund. Fields the client does not know yet stay in `raw`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _int(document: dict[str, Any], name: str, default: int = 0) -> int:
    value = document.get(name, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _str(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Payment:
    id: str
    amount: int  # minor units of `currency` (1000 USD is 10.00)
    currency: str
    status: str  # requires_action, succeeded, partially_refunded, refunded, failed, canceled
    created_at: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    customer: str | None = None
    processor_payment_id: str | None = None
    amount_refunded: int = 0
    next_action: dict[str, Any] | None = None  # 3-D Secure: what the customer must do
    client_secret: str | None = None  # handed to the browser or app that completes the action
    replayed: bool = False  # the server answered from its record of this key (Idempotent-Replayed)
    idempotency_key: str | None = None  # the key this payment was created under, when created here
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def requires_action(self) -> bool:
        """The card needs its holder (3-D Secure): the payment is not paid until they complete `next_action`."""
        return self.status == "requires_action"

    @classmethod
    def from_json(cls, document: dict[str, Any], *, replayed: bool = False, key: str | None = None) -> Payment:
        metadata = document.get("metadata")
        action = document.get("next_action")
        return cls(
            id=str(document.get("id", "")),
            amount=_int(document, "amount"),
            currency=str(document.get("currency", "")),
            status=str(document.get("status", "")),
            created_at=_str(document, "created_at"),
            description=_str(document, "description"),
            metadata=dict(metadata) if isinstance(metadata, dict) else {},
            customer=_str(document, "customer"),
            processor_payment_id=_str(document, "processor_payment_id"),
            amount_refunded=_int(document, "amount_refunded"),
            next_action=action if isinstance(action, dict) else None,
            client_secret=_str(document, "client_secret"),
            replayed=replayed,
            idempotency_key=key,
            raw=document,
        )


@dataclass(frozen=True)
class Refund:
    id: str
    payment_id: str
    amount: int
    currency: str
    status: str  # pending, succeeded, failed, canceled
    reason: str | None = None
    created_at: str | None = None
    failure_reason: str | None = None
    replayed: bool = False
    idempotency_key: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, document: dict[str, Any], *, replayed: bool = False, key: str | None = None) -> Refund:
        return cls(
            id=str(document.get("id", "")),
            payment_id=str(document.get("payment_id", "")),
            amount=_int(document, "amount"),
            currency=str(document.get("currency", "")),
            status=str(document.get("status", "")),
            reason=_str(document, "reason"),
            created_at=_str(document, "created_at"),
            failure_reason=_str(document, "failure_reason"),
            replayed=replayed,
            idempotency_key=key,
            raw=document,
        )
