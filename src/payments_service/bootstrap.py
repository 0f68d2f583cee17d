"""Where every entry point starts: settings, the garbage-collection policy of a cold start, and the
wiring of use cases to their collaborators. Imports stay cheap here: the wiring loads on first use."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from .domain.processor import PaymentProcessor
    from .idempotency.clock import Clock
    from .logic.create_payment import CreatePayment
    from .logic.get_payment import GetPayment
    from .logic.reconcile import Reconcile
    from .models.settings import Settings


def pause_collection() -> None:
    """Called before a cold start's imports: collection passes over hundreds of loading modules cost ~25 ms."""
    gc.disable()


def resume_collection() -> None:
    """After the first event: freeze the init survivors out of later collections, then collect again."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


@dataclass(frozen=True)
class Container:
    create_payment: CreatePayment
    get_payment: GetPayment
    reconcile: Reconcile
    client: Callable[[], DynamoDBClient]

    def warm(self) -> None:
        """Build the boto3 client ahead of the first request (pre-initialized environments)."""
        self.client()


def _processor_from(settings: Settings, client: Callable[[], DynamoDBClient]) -> PaymentProcessor:
    """The processor PAYMENT_PROCESSOR names; Settings admits only the ones implemented."""
    from .processors.sandbox import SandboxProcessor

    ledger = None
    if settings.sandbox_charges_table:
        from .dal.sandbox_charges import DynamoDBSandboxCharges

        ledger = DynamoDBSandboxCharges(client, settings.sandbox_charges_table)
    return SandboxProcessor(slow_seconds=settings.sandbox_slow_seconds, ledger=ledger)


def build(
    settings: Settings,
    *,
    client: Callable[[], DynamoDBClient] | None = None,
    processor: PaymentProcessor | None = None,
    clock: Clock | None = None,
) -> Container:
    """Wire the use cases; tests and tools pass their own client, processor or clock."""
    from .dal.business_writes import BusinessWrites
    from .dal.clients import dynamodb_client
    from .dal.idempotency_table import DynamoDBIdempotencyStore
    from .dal.payments_table import DynamoDBPaymentsTable
    from .idempotency import IdempotencyEngine
    from .idempotency.cache import ReplayCache
    from .idempotency.clock import SystemClock
    from .idempotency.engine import InFlightPolicy
    from .logic.create_payment import CreatePayment
    from .logic.get_payment import GetPayment
    from .logic.reconcile import Reconcile

    client = client or dynamodb_client
    clock = clock or SystemClock()
    payments = DynamoDBPaymentsTable(client, settings.payments_table)
    engine = IdempotencyEngine(
        DynamoDBIdempotencyStore(client, settings.idempotency_table, BusinessWrites(payments)),
        retention_seconds=settings.retention_seconds,
        lease_margin_ms=settings.lease_margin_ms,
        default_lease_ms=settings.default_lease_ms,
        clock=clock,
        cache=ReplayCache(settings.replay_cache_size) if settings.replay_cache_size > 0 else None,
        in_flight=InFlightPolicy(
            retry_after_seconds=settings.inflight_retry_after_seconds,
            wait_ms=settings.inflight_wait_ms,
            poll_ms=settings.inflight_poll_ms,
        ),
    )
    processor = processor or _processor_from(settings, client)
    return Container(
        create_payment=CreatePayment(engine, processor, clock),
        get_payment=GetPayment(payments),
        reconcile=Reconcile(
            engine,
            processor,
            clock,
            min_age_seconds=settings.reconciler_min_age_seconds,
            max_keys_per_run=settings.reconciler_max_keys_per_run,
        ),
        client=client,
    )


def budget(remaining_ms: int | None) -> AbstractContextManager[None]:
    """Every DynamoDB call made inside fits in `remaining_ms` (the invocation's time left), see dal/deadline.py."""
    from .dal.deadline import budget as dynamodb_budget

    return dynamodb_budget(remaining_ms)


_lock = threading.Lock()
_settings: Settings | None = None
_container: Container | None = None


def settings() -> Settings:
    """Read from the environment once per execution environment; a missing table name fails loudly."""
    global _settings
    if _settings is None:
        from .models.settings import Settings

        _settings = Settings.from_env()
    return _settings


def container() -> Container:
    global _container
    if _container is None:
        with _lock:
            if _container is None:
                _container = build(settings())
    return _container


def use(replacement: Container | None) -> None:
    """Swap the collaborators (tests, local tools); None rebuilds the real ones on next use."""
    global _container
    _container = replacement
