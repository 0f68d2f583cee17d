"""Builds the collaborators once per execution environment; tests build their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..dal.clients import dynamodb_client
from ..dal.idempotency_table import DynamoDBIdempotencyStore
from ..dal.payments_table import DynamoDBPaymentsTable
from ..domain.payments import PaymentService
from ..domain.processor import PaymentProcessor, SandboxProcessor
from ..idempotency.cache import ReplayCache
from ..idempotency.clock import Clock, SystemClock
from ..idempotency.service import IdempotentExecutor
from ..models.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    executor: IdempotentExecutor
    payments: PaymentService
    payments_table: DynamoDBPaymentsTable
    client: Callable[[], DynamoDBClient]

    def warm(self) -> None:
        """Build the boto3 client ahead of the first request."""
        self.client()


def _processor_from(settings: Settings) -> PaymentProcessor:
    """The processor PAYMENT_PROCESSOR names; Settings only admits the ones implemented."""
    if settings.processor == "sandbox":
        return SandboxProcessor(slow_seconds=settings.sandbox_slow_seconds)
    raise ValueError(f"no payment processor {settings.processor!r}")


def build(
    settings: Settings,
    *,
    client: Callable[[], DynamoDBClient] = dynamodb_client,
    processor: PaymentProcessor | None = None,
    clock: Clock | None = None,
) -> Dependencies:
    clock = clock or SystemClock()
    table = DynamoDBPaymentsTable(client, settings.payments_table)
    cache = ReplayCache(settings.replay_cache_size) if settings.replay_cache_size > 0 else None
    executor = IdempotentExecutor(
        DynamoDBIdempotencyStore(client, settings.idempotency_table),
        retention_seconds=settings.retention_seconds,
        lease_margin_ms=settings.lease_margin_ms,
        default_lease_ms=settings.default_lease_ms,
        clock=clock,
        cache=cache,
    )
    processor = processor or _processor_from(settings)
    return Dependencies(settings, executor, PaymentService(processor, table, clock), table, client)
