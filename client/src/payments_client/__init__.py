"""A client for the idempotent-payments API that makes retrying safe.

from payments_client import Client, Declined, RetriesExhausted
with Client("http://127.0.0.1:3000", headers={"X-Merchant-Id": "arn:aws:iam::000000000000:user/me"}) as c:
    payment = c.create_payment(amount=1000, currency="USD", source="tok_visa", idempotency_key="order-1001")
"""

from ._core import AttemptReport
from .aio import AsyncClient
from .client import Client
from .errors import (
    ApiError,
    Conflict,
    Declined,
    InvalidRequest,
    KeyExpiredAtProcessor,
    KeyReused,
    NotFound,
    PaymentsError,
    RetriesExhausted,
    Unauthenticated,
)
from .iam import SigV4
from .models import Payment, Refund
from .retry import Backoff, parse_retry_after

__all__ = [
    "ApiError",
    "AsyncClient",
    "AttemptReport",
    "Backoff",
    "Client",
    "Conflict",
    "Declined",
    "InvalidRequest",
    "KeyExpiredAtProcessor",
    "KeyReused",
    "NotFound",
    "Payment",
    "PaymentsError",
    "Refund",
    "RetriesExhausted",
    "SigV4",
    "Unauthenticated",
    "parse_retry_after",
]
