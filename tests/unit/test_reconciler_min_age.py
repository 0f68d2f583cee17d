"""Finding 18.9: with Stripe, a minimum age shorter than a charge can still be running is refused at start,
and the template's values pass (the floor derives from the charging functions' timeout, not the
reconciler's own)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from local import template
from payments_service.models.settings import STRIPE_IN_FLIGHT_MARGIN_SECONDS, Settings

STRIPE = {
    "IDEMPOTENCY_TABLE_NAME": "keys",
    "PAYMENTS_TABLE_NAME": "payments",
    "REFUNDS_TABLE_NAME": "refunds",
    "PAYMENT_PROCESSOR": "stripe",
    "STRIPE_API_KEY": "sk_test_x",
    "CHARGE_FUNCTION_TIMEOUT_SECONDS": "20",
}


@pytest.mark.parametrize("age", [0, 30, 20 + STRIPE_IN_FLIGHT_MARGIN_SECONDS - 1])
def test_too_short_a_minimum_age_with_stripe_is_refused_naming_the_floor(age: int) -> None:
    with pytest.raises(ValidationError, match="RECONCILER_MIN_AGE_SECONDS must be at least 50 s"):
        Settings.from_env({**STRIPE, "RECONCILER_MIN_AGE_SECONDS": str(age)})


def test_the_floor_follows_the_charging_functions_timeout() -> None:
    Settings.from_env({**STRIPE, "RECONCILER_MIN_AGE_SECONDS": "50"})
    with pytest.raises(ValidationError):
        Settings.from_env({**STRIPE, "RECONCILER_MIN_AGE_SECONDS": "50", "CHARGE_FUNCTION_TIMEOUT_SECONDS": "60"})


def test_the_sandbox_may_reconcile_at_once() -> None:
    settings = Settings.from_env({**STRIPE, "PAYMENT_PROCESSOR": "sandbox", "RECONCILER_MIN_AGE_SECONDS": "0"})
    assert settings.reconciler_min_age_seconds == 0


def test_the_template_default_passes_with_stripe_and_its_floor_is_the_charging_functions_timeout() -> None:
    functions = template.resources("AWS::Serverless::Function")
    env = functions["ReconcilerFunction"]["Properties"]["Environment"]["Variables"]
    charging = max(template.timeout_seconds(name) for name in ("PaymentsFunction", "PaymentQueueFunction"))
    assert int(env["CHARGE_FUNCTION_TIMEOUT_SECONDS"]) == charging
    default = template.parameter_defaults()["ReconcilerMinAgeSeconds"]
    assert int(default) <= 60
    Settings.from_env({**STRIPE, "RECONCILER_MIN_AGE_SECONDS": default})
