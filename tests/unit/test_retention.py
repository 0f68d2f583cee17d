"""A key must never expire under a live owner: retention is refused when shorter than a lease can be."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from local import template
from payments_service.idempotency import Completion, IdempotencyEngine, IdempotentRequest, KeyInUse
from payments_service.idempotency.memory_store import InMemoryStore
from payments_service.models.settings import RETENTION_MARGIN_SECONDS, Settings
from tests.support import FakeClock

TABLES = {"IDEMPOTENCY_TABLE_NAME": "keys", "PAYMENTS_TABLE_NAME": "payments", "REFUNDS_TABLE_NAME": "refunds"}


def test_a_key_outlives_the_lease_of_its_owner_even_under_a_short_retention() -> None:
    # Given an engine keeping keys 60 s and an invocation with 300 s left, still charging
    clock = FakeClock(1_700_000_000_000)
    store = InMemoryStore()
    engine = IdempotencyEngine(store, retention_seconds=60, lease_margin_ms=0, default_lease_ms=1_000, clock=clock)
    request = IdempotentRequest(scope="merchant", key="k", operation="op", payload="{}")
    references: list[str] = []

    def slow_charge(claim: Any) -> Completion:
        references.append(claim.reference)
        clock.advance(90_000)  # past the retention, well within the lease
        with pytest.raises(KeyInUse):  # a retry now must wait: the first owner is alive
            engine.run(request, record_reference, remaining_ms=300_000)
        return Completion("done")

    def record_reference(claim: Any) -> Completion:
        references.append(claim.reference)
        return Completion("second")

    outcome = engine.run(request, slow_charge, remaining_ms=300_000)
    # Then there was one reference, one result
    assert outcome.result == "done" and len(references) == 1


def test_settings_refuse_a_retention_shorter_than_the_function_timeout_plus_margin() -> None:
    with pytest.raises(ValidationError, match="IDEMPOTENCY_RETENTION_SECONDS"):
        Settings.from_env({**TABLES, "IDEMPOTENCY_RETENTION_SECONDS": "300", "FUNCTION_TIMEOUT_SECONDS": "300"})
    edge = 300 + RETENTION_MARGIN_SECONDS
    ok = Settings.from_env({**TABLES, "IDEMPOTENCY_RETENTION_SECONDS": str(edge), "FUNCTION_TIMEOUT_SECONDS": "300"})
    assert ok.retention_seconds == edge


def test_settings_refuse_a_retention_shorter_than_the_default_lease_plus_margin() -> None:
    with pytest.raises(ValidationError, match="IDEMPOTENCY_RETENTION_SECONDS"):
        Settings.from_env({**TABLES, "IDEMPOTENCY_RETENTION_SECONDS": "120", "IDEMPOTENCY_DEFAULT_LEASE_MS": "100000"})


def _functions() -> dict[str, dict[str, Any]]:
    return template.resources("AWS::Serverless::Function")


def test_the_template_refuses_a_retention_shorter_than_any_function_timeout_plus_margin() -> None:
    longest = max(
        int(fn["Properties"].get("Timeout") or template.function_globals()["Timeout"]) for fn in _functions().values()
    )
    minimum = int(template.load()["Parameters"]["IdempotencyRetentionSeconds"]["MinValue"])
    assert minimum >= longest + RETENTION_MARGIN_SECONDS


def test_every_function_tells_the_settings_its_own_timeout() -> None:
    for name, fn in _functions().items():
        timeout = int(fn["Properties"].get("Timeout") or template.function_globals()["Timeout"])
        variables = fn["Properties"]["Environment"]["Variables"]
        assert variables.get("FUNCTION_TIMEOUT_SECONDS") == timeout, name
