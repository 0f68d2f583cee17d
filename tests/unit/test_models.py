from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from payments_service.models.payments import CreatePaymentRequest
from payments_service.models.settings import Settings

VALID: dict[str, Any] = {"amount": 1000, "currency": "USD", "source": "tok_visa"}


def test_a_minimal_valid_request_parses() -> None:
    request = CreatePaymentRequest.model_validate(VALID)
    assert (request.amount, request.currency, request.description, request.metadata) == (1000, "USD", None, {})


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 0},
        {"amount": -1},
        {"amount": 100_000_000},
        {"amount": "1000"},
        {"amount": 10.0},
        {"amount": True},
        {"currency": "usd"},
        {"currency": "US"},
        {"currency": "USDX"},
        {"source": ""},
        {"source": "t" * 256},
        {"description": "d" * 501},
        {"metadata": {f"k{i}": "v" for i in range(21)}},
        {"metadata": {"k": 1}},
        {"tip": 5},
    ],
)
def test_invalid_requests_are_rejected(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CreatePaymentRequest.model_validate({**VALID, **change})


def test_limits_are_inclusive() -> None:
    request = CreatePaymentRequest.model_validate(
        {**VALID, "amount": 99_999_999, "description": "d" * 500, "metadata": {f"k{i}": "v" for i in range(20)}}
    )
    assert request.amount == 99_999_999


def test_settings_require_table_names() -> None:
    with pytest.raises(ValidationError):
        Settings.from_env({"PAYMENTS_TABLE_NAME": "payments"})


def test_settings_read_the_environment_once() -> None:
    settings = Settings.from_env(
        {
            "IDEMPOTENCY_TABLE_NAME": "keys",
            "PAYMENTS_TABLE_NAME": "payments",
            "REFUNDS_TABLE_NAME": "refunds",
            "IDEMPOTENCY_RETENTION_SECONDS": "3600",
            "POWERTOOLS_TRACE_DISABLED": "false",
        }
    )
    assert (settings.idempotency_table, settings.retention_seconds, settings.tracing_enabled) == ("keys", 3600, True)
    assert (
        Settings.from_env(
            {"IDEMPOTENCY_TABLE_NAME": "keys", "PAYMENTS_TABLE_NAME": "pay", "REFUNDS_TABLE_NAME": "ref"}
        ).tracing_enabled
        is False
    )
