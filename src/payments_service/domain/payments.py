"""What a payment is made of, and the ports payments need. Knows nothing of HTTP, Lambda or DynamoDB."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from .errors import Transient
from .pages import Page
from .stored_payments import DeclinedPayment, StoredPayment


class PaymentsUnavailable(Transient):
    """The payments store could not be read right now."""


class PaymentsRepository(Protocol):
    def get(self, payment_id: str) -> StoredPayment | DeclinedPayment | None:
        """The payment record, or None. PaymentsUnavailable on a transient failure."""

    def list_by_merchant(self, merchant: str, limit: int, cursor: str | None) -> Page[StoredPayment]:
        """Newest first, through the merchant/creation-time index. InvalidCursor for a foreign cursor."""


@dataclass(frozen=True)
class RecordPayment:
    """A business write: create the payment record, refused if a payment with its id exists."""

    payment: StoredPayment


@dataclass(frozen=True)
class RecordDecline:
    """A business write: keep the declined attempt (audit, payment events), refused if its id exists."""

    declined: DeclinedPayment


def payment_id_for(reference: str) -> str:
    # Derived from the idempotency reference: a retry that reaches the commit again builds the same
    # id, and the payments table's attribute_not_exists condition refuses a second record.
    return "pay_" + hashlib.sha256(b"payment:" + reference.encode()).hexdigest()[:24]


def rfc3339(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
