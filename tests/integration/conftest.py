"""Fixtures shared by the integration tests: a world of its own for each reconciler test."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from local.tables import create_tables
from tests.proof.oracle import Answer, key_record, payments_of
from tests.support import FakeContext, unique


@dataclass
class World:
    settings: Any
    deps: Any
    processor: Any
    clock: Any
    db: Any

    def call(self, event: dict[str, Any], remaining_ms: int = 20_000) -> Answer:
        from payments_service import bootstrap
        from payments_service.handlers import api

        bootstrap.use(self.deps)
        with contextlib.redirect_stdout(io.StringIO()):
            return Answer.of(api.lambda_handler(event, FakeContext(remaining_ms)))

    def record(self, merchant: str, key: str) -> Any:
        return key_record(self.db, self.settings.idempotency_table, merchant, key)

    def payments(self, merchant: str) -> list[dict[str, Any]]:
        return payments_of(self.db, self.settings.payments_table, merchant)


@pytest.fixture
def make_world(dynamodb: Any, processor: Any, clock: Any) -> Iterator[Callable[..., World]]:
    from payments_service import bootstrap
    from payments_service.models.settings import Settings

    def make(processor: Any = processor, **changes: Any) -> World:
        """Tables of its own; processor=None: the one the environment's PAYMENT_PROCESSOR names, as deployed."""
        names = create_tables(dynamodb.client, prefix=unique("rec"))
        settings = Settings.from_env().model_copy(
            update={
                "idempotency_table": names["IdempotencyTable"],
                "payments_table": names["PaymentsTable"],
                "refunds_table": names["RefundsTable"],
                "reconciler_min_age_seconds": 0,
                **changes,
            }
        )
        deps = bootstrap.build(settings, processor=processor, clock=clock)
        return World(settings, deps, processor, clock, dynamodb.client)

    yield make


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()
