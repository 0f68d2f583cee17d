"""Where every entry point starts: settings, the garbage-collection policy of a cold start, and the
wiring of use cases to their collaborators. Imports stay cheap here: the wiring loads on first use."""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Generic, TypeVar, cast

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from .dal.dead_letters import SqsDeadLetters
    from .dal.payment_states import DynamoDBPaymentStates
    from .dal.payments_table import DynamoDBPaymentsTable
    from .dal.refund_states import DynamoDBRefundStates
    from .dal.refunds_table import DynamoDBRefundsTable
    from .domain.processor import PaymentProcessor
    from .domain.processor_events import EventVerifier
    from .idempotency import IdempotencyEngine
    from .idempotency.clock import Clock
    from .logic.apply_processor_event import ApplyProcessorEvent
    from .logic.create_payment import CreatePayment
    from .logic.create_refund import CreateRefund
    from .logic.follow_up import FollowUpWithProcessor
    from .logic.get_payment import GetPayment
    from .logic.get_refund import GetRefund
    from .logic.list_payments import ListPayments
    from .logic.list_refunds import ListRefunds
    from .logic.reconcile import Reconcile
    from .logic.sweep_expired_keys import SweepExpiredKeys
    from .models.settings import Settings


def pause_collection() -> None:
    """Called before a cold start's imports: collection passes over hundreds of loading modules cost ~25 ms.

    Only inside a Lambda execution environment (the runtime names the function): a process that imports
    the package for other reasons (the local server, tools) never runs a handler to switch it back on."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        gc.disable()


def resume_collection() -> None:
    """After the first event: freeze the init survivors out of later collections, then collect again."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def initialize(initialization_type: str) -> None:
    """Init-phase work of an entry point. Pre-initialized environments (provisioned concurrency,
    SnapStart) build their clients now, so the snapshot holds them; on demand they stay lazy."""
    if initialization_type in ("provisioned-concurrency", "snap-start"):
        container().warm()
    if initialization_type == "snap-start":
        # shipped in Lambda's managed Python runtimes
        from snapshot_restore_py import register_after_restore, register_before_snapshot

        from .handlers.priming import prime

        register_before_snapshot(prime)
        register_after_restore(after_restore)


def after_restore() -> None:
    """Every copy restored from one snapshot starts with the same memory. Owner tokens and references
    come from os.urandom and stay unique; the `random` state botocore draws its retry jitter from
    would not, so restored environments would retry in lockstep: reseed it. A secret cached in the snapshot
    may have been rotated since it was taken: forget it (read again on first use)."""
    random.seed()
    from .dal.secrets import forget_cached_secrets

    forget_cached_secrets()


_Built = TypeVar("_Built")


class _OnFirstUse(Generic[_Built]):
    """A collaborator built the first time it is read, once per container (a lock: the local server and the
    tests call one container from several threads). A plain cached_property would take no lock."""

    def __init__(self, build: Callable[[Container], _Built]) -> None:
        self._build = build
        self._name = build.__name__

    def __get__(self, container: Container, owner: type | None = None) -> _Built:
        built = container.__dict__.get(self._name, _MISSING)
        if built is _MISSING:
            with container._building:
                built = container.__dict__.get(self._name, _MISSING)
                if built is _MISSING:
                    built = container.__dict__[self._name] = self._build(container)
        return cast("_Built", built)


_MISSING = object()


class Container:
    """The use cases and their collaborators, each built on first use: a first POST /payments imports and
    builds the payment path only, never refunds, listing, the reconciler or the queue's dead letters."""

    def __init__(
        self,
        settings: Settings,
        client: Callable[[], DynamoDBClient],
        processor: PaymentProcessor | None,
        clock: Clock,
    ) -> None:
        self.settings, self.client, self._clock = settings, client, clock
        self._given_processor = processor
        self._building = threading.RLock()  # re-entrant: a use case reads the engine while it is built
        self.event_verifier: Callable[[], EventVerifier] = _event_verifier(settings)

    def warm(self) -> None:
        """Build the boto3 client ahead of the first request (pre-initialized environments)."""
        self.client()

    @_OnFirstUse
    def processor(self) -> PaymentProcessor:
        return self._given_processor or _processor_from(self.settings, self.client)

    @_OnFirstUse
    def payments(self) -> DynamoDBPaymentsTable:
        from .dal.payments_table import DynamoDBPaymentsTable

        return DynamoDBPaymentsTable(self.client, self.settings.payments_table)

    @_OnFirstUse
    def refunds(self) -> DynamoDBRefundsTable:
        from .dal.refunds_table import DynamoDBRefundsTable

        return DynamoDBRefundsTable(self.client, self.settings.refunds_table)

    @_OnFirstUse
    def payment_states(self) -> DynamoDBPaymentStates:
        from .dal.payment_states import DynamoDBPaymentStates

        return DynamoDBPaymentStates(self.client, self.settings.payments_table)

    @_OnFirstUse
    def refund_states(self) -> DynamoDBRefundStates:
        from .dal.refund_states import DynamoDBRefundStates

        return DynamoDBRefundStates(self.client, self.settings.refunds_table, self.settings.payments_table)

    @_OnFirstUse
    def engine(self) -> IdempotencyEngine:
        from .dal.business_writes import BusinessWrites
        from .dal.idempotency_table import DynamoDBIdempotencyStore
        from .idempotency import IdempotencyEngine
        from .idempotency.cache import ReplayCache
        from .idempotency.requests import InFlightPolicy

        settings = self.settings
        return IdempotencyEngine(
            DynamoDBIdempotencyStore(
                self.client,
                settings.idempotency_table,
                BusinessWrites(self.payments, lambda: self.refunds),
                completion=settings.idempotency_completion,
            ),
            retention_seconds=settings.retention_seconds,
            lease_margin_ms=settings.lease_margin_ms,
            default_lease_ms=settings.default_lease_ms,
            clock=self._clock,
            cache=ReplayCache(settings.replay_cache_size) if settings.replay_cache_size > 0 else None,
            reference_window_seconds=settings.processor_idempotency_window_seconds,
            in_flight=InFlightPolicy(
                retry_after_seconds=settings.inflight_retry_after_seconds,
                wait_ms=settings.inflight_wait_ms,
                poll_ms=settings.inflight_poll_ms,
            ),
        )

    def _commit_reserve_ms(self) -> int:
        from .dal.deadline import processor_commit_reserve_ms

        return processor_commit_reserve_ms(self.settings.processor_commit_room_ms)

    @_OnFirstUse
    def create_payment(self) -> CreatePayment:
        from .logic.create_payment import CreatePayment

        return CreatePayment(self.engine, self.processor, self._clock, self._commit_reserve_ms())

    @_OnFirstUse
    def get_payment(self) -> GetPayment:
        from .logic.get_payment import GetPayment

        return GetPayment(self.payments)

    @_OnFirstUse
    def dead_letters(self) -> SqsDeadLetters:
        from .dal.clients import sqs_client
        from .dal.dead_letters import SqsDeadLetters

        return SqsDeadLetters(sqs_client, self.settings.dead_letter_queue_url)

    @_OnFirstUse
    def reconcile(self) -> Reconcile:
        from .logic.reconcile import Reconcile

        settings = self.settings
        return Reconcile(
            self.engine,
            self.processor,
            self._clock,
            self.payments,
            min_age_seconds=settings.reconciler_min_age_seconds,
            max_keys_per_run=settings.reconciler_max_keys_per_run,
            max_attempts=settings.reconciler_max_attempts,
        )

    @_OnFirstUse
    def sweep_expired_keys(self) -> SweepExpiredKeys:
        from .dal.expired_keys import DynamoDBExpiredKeys
        from .logic.sweep_expired_keys import SweepExpiredKeys

        settings = self.settings
        return SweepExpiredKeys(
            DynamoDBExpiredKeys(self.client, settings.idempotency_table),
            self._clock,
            max_deletes_per_run=settings.key_sweeper_max_deletes_per_run,
            page_size=settings.key_sweeper_page_size,
            max_pages_per_run=settings.key_sweeper_max_pages_per_run,
        )

    @_OnFirstUse
    def create_refund(self) -> CreateRefund:
        from .logic.create_refund import CreateRefund

        return CreateRefund(self.engine, self.payments, self.processor, self._clock, self._commit_reserve_ms())

    @_OnFirstUse
    def list_payments(self) -> ListPayments:
        from .logic.list_payments import ListPayments

        return ListPayments(self.payments)

    @_OnFirstUse
    def list_refunds(self) -> ListRefunds:
        from .logic.list_refunds import ListRefunds

        return ListRefunds(self.payments, self.refunds)

    @_OnFirstUse
    def get_refund(self) -> GetRefund:
        from .logic.get_refund import GetRefund

        return GetRefund(self.refunds)

    @_OnFirstUse
    def apply_processor_event(self) -> ApplyProcessorEvent:
        from .logic.apply_processor_event import ApplyProcessorEvent

        return ApplyProcessorEvent(self.payment_states, self.refunds, self.refund_states)

    @_OnFirstUse
    def follow_up(self) -> FollowUpWithProcessor:
        from .logic.follow_up import FollowUpWithProcessor

        return FollowUpWithProcessor(
            self.processor,
            self.payment_states,
            self.refunds,
            self.refund_states,
            self._clock,
            abandon_after_seconds=self.settings.requires_action_timeout_seconds,
            max_items_per_run=self.settings.reconciler_max_keys_per_run,
        )


def _processor_from(settings: Settings, client: Callable[[], DynamoDBClient]) -> PaymentProcessor:
    """The processor PAYMENT_PROCESSOR names; Settings admits only the ones implemented. The Stripe SDK and
    the secret reader are imported only when Stripe is chosen: the sandbox's cold start never pays for them."""
    if settings.processor == "stripe":
        from .processors.stripe import StripeProcessor

        return StripeProcessor(
            _stripe_api_key(settings),
            api_base=settings.stripe_api_base,
            max_network_retries=settings.stripe_max_network_retries,
            attempt_timeout_s=settings.stripe_attempt_timeout_seconds,
            idempotency_window_s=settings.processor_idempotency_window_seconds,
        )
    from .processors.sandbox import SandboxProcessor

    ledger = None
    if settings.sandbox_charges_table:
        from .dal.sandbox_charges import DynamoDBSandboxCharges

        ledger = DynamoDBSandboxCharges(client, settings.sandbox_charges_table)
    return SandboxProcessor(slow_seconds=settings.sandbox_slow_seconds, ledger=ledger)


def _stripe_api_key(settings: Settings) -> Callable[[], str]:
    """Secrets Manager when an ARN is set (deployed), else STRIPE_API_KEY (local runs, tests)."""
    if settings.stripe_api_key_secret_arn:
        from .dal.secrets import processor_secret

        return processor_secret(settings.stripe_api_key_secret_arn, settings.stripe_secret_max_age_seconds)
    key = settings.stripe_api_key
    assert key is not None  # Settings refuses stripe without one or the other
    return key.get_secret_value


def _event_verifier(settings: Settings) -> Callable[[], EventVerifier]:
    """Stripe's webhook signature check; the SDK is imported only when the first event arrives."""

    @functools.cache
    def verifier() -> EventVerifier:
        from .processors.stripe_events import StripeEventVerifier

        built: EventVerifier = StripeEventVerifier(_webhook_secrets(settings))
        return built

    return verifier


def _webhook_secrets(settings: Settings) -> Callable[[], list[str]]:
    """The secrets an event may be signed with (two during a rotation); none configured verifies nothing."""
    read: Callable[[], str]
    if settings.stripe_webhook_secret_arn:
        from .dal.secrets import processor_secret

        read = processor_secret(settings.stripe_webhook_secret_arn, settings.stripe_secret_max_age_seconds)
    elif settings.stripe_webhook_secret is not None:
        read = settings.stripe_webhook_secret.get_secret_value
    else:
        return list
    return lambda: [part.strip() for part in read().split(",") if part.strip()]


def build(
    settings: Settings,
    *,
    client: Callable[[], DynamoDBClient] | None = None,
    processor: PaymentProcessor | None = None,
    clock: Clock | None = None,
) -> Container:
    """Wire the use cases (each built on first use); tests and tools pass their own client, processor or clock."""
    from .idempotency.clock import SystemClock

    if client is None:
        from .dal.clients import dynamodb_client

        client = dynamodb_client
    return Container(settings, client, processor, clock or SystemClock())


def budget(remaining_ms: int | None) -> AbstractContextManager[None]:
    """Every DynamoDB call made inside fits in `remaining_ms` (the invocation's time left), see dal/deadline.py."""
    from .dal.deadline import budget as dynamodb_budget

    return dynamodb_budget(remaining_ms)


_lock = threading.Lock()
# One per execution environment on purpose: its clients and caches outlive the invocation (a ContextVar would
# not reach the threads a test or the local server serves requests on). Swapped only by `use` and `using`.
_container: Container | None = None


@functools.cache
def settings() -> Settings:
    """Read from the environment once per execution environment; a missing table name fails loudly."""
    from .models.settings import Settings

    return Settings.from_env()


def container() -> Container:
    global _container
    if _container is None:
        with _lock:
            if _container is None:
                _container = build(settings())
    return _container


def use(replacement: Container | None) -> None:
    """Swap the collaborators (local tools, benches); None rebuilds the real ones on next use."""
    global _container
    _container = replacement


@contextlib.contextmanager
def using(replacement: Container | None) -> Iterator[Container | None]:
    """These collaborators inside the block, whatever was in use before after it (tests: nothing to reset)."""
    global _container
    previous, _container = _container, replacement
    try:
        yield replacement
    finally:
        _container = previous
