"""PAYMENT_PROCESSOR chooses the processor; Stripe's key comes from Secrets Manager (Powertools Parameters) or,
locally, STRIPE_API_KEY; the sandbox never loads the Stripe SDK or the secret reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from payments_service.domain.processor import ProcessorMisconfigured, ProcessorUnavailable
from payments_service.models.settings import Settings
from tests.stripe_double.server import TEST_KEY
from tests.support import payment_event, unique

ROOT = Path(__file__).resolve().parents[2]
TABLES = {"IDEMPOTENCY_TABLE_NAME": "t-keys", "PAYMENTS_TABLE_NAME": "t-payments", "REFUNDS_TABLE_NAME": "t-refunds"}


def test_stripe_without_a_key_fails_at_settings_and_an_unknown_processor_is_refused() -> None:
    with pytest.raises(ValidationError, match="STRIPE_API_KEY_SECRET_ARN"):
        Settings.from_env({**TABLES, "PAYMENT_PROCESSOR": "stripe"})
    with pytest.raises(ValidationError):
        Settings.from_env({**TABLES, "PAYMENT_PROCESSOR": "paypal"})


def test_the_api_key_never_shows_in_the_settings_repr() -> None:
    chosen = Settings.from_env({**TABLES, "PAYMENT_PROCESSOR": "stripe", "STRIPE_API_KEY": "sk_test_secret123"})
    assert "sk_test_secret123" not in repr(chosen) and "sk_test_secret123" not in str(chosen.model_dump())


def test_payment_processor_stripe_with_a_direct_key_and_api_base_charges_through_the_handler(
    dynamodb: Any, stripe_double: Any, clock: Any
) -> None:
    from payments_service import bootstrap
    from payments_service.processors.stripe import StripeProcessor
    from tests.proof.oracle import call

    chosen = Settings.from_env(
        {**os.environ, "PAYMENT_PROCESSOR": "stripe", "STRIPE_API_KEY": TEST_KEY, "STRIPE_API_BASE": stripe_double.url}
    )
    deps = bootstrap.build(chosen, clock=clock)  # the processor comes from the settings
    try:
        assert isinstance(deps.create_payment._processor, StripeProcessor)
        answer = call(deps, payment_event(unique("k"), {"amount": 700, "currency": "GBP", "source": "pm_card_visa"}))
    finally:
        bootstrap.use(None)
    assert answer.status == 201, answer
    [intent] = stripe_double.intents
    assert json.loads(answer.body)["processor_payment_id"] == intent["id"] and intent["currency"] == "gbp"


def test_the_sandbox_cold_path_never_imports_the_stripe_sdk_or_the_parameters_utility(dynamodb: Any) -> None:
    script = (
        "import sys\n"
        "from payments_service import bootstrap\n"
        "from payments_service.handlers import api\n"
        "bootstrap.container()\n"
        "unwanted = ('stripe', 'requests', 'aws_lambda_powertools.utilities.parameters')\n"
        "loaded = [m for m in unwanted if m in sys.modules]\n"
        "print(loaded)\n"
    )
    env = {**os.environ, "PAYMENT_PROCESSOR": "sandbox", "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.fixture
def secrets_manager() -> Iterator[Any]:
    """A secretsmanager client answered by botocore's Stubber: no network, no global patching."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("secretsmanager", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.client = client  # type: ignore[attr-defined]
        yield stubber
        stubber.assert_no_pending_responses()


ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:payments/stripe-AbCdEf"


def secret_answer(value: str) -> dict[str, Any]:
    return {"ARN": ARN, "Name": "payments/stripe", "SecretString": value, "VersionId": uuid.uuid4().hex}


def test_the_key_is_read_from_secrets_manager_and_refreshed_after_max_age(secrets_manager: Any) -> None:
    from payments_service.dal.secrets import processor_secret

    secrets_manager.add_response("get_secret_value", secret_answer("sk_test_from_secret"), {"SecretId": ARN})
    secrets_manager.add_response("get_secret_value", secret_answer("sk_test_rotated"), {"SecretId": ARN})
    read = processor_secret(ARN, 1, client=lambda: secrets_manager.client)
    assert read() == "sk_test_from_secret"
    assert read() == "sk_test_from_secret"  # served from the cache: no second call yet
    time.sleep(1.2)
    assert read() == "sk_test_rotated"  # max_age passed: read again


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        ("ResourceNotFoundException", ProcessorMisconfigured),
        ("AccessDeniedException", ProcessorMisconfigured),
        ("ThrottlingException", ProcessorUnavailable),
    ],
)
def test_an_unreadable_secret_is_misconfiguration_or_unavailable_and_names_no_value(
    secrets_manager: Any, code: str, raised: type[Exception]
) -> None:
    from payments_service.dal.secrets import processor_secret

    secrets_manager.add_client_error("get_secret_value", service_error_code=code, http_status_code=400)
    with pytest.raises(raised):
        processor_secret(ARN, 300, client=lambda: secrets_manager.client)()


def test_bootstrap_reads_the_key_from_the_secret_when_an_arn_is_set() -> None:
    from payments_service import bootstrap
    from payments_service.dal import secrets

    chosen = Settings.from_env({**TABLES, "PAYMENT_PROCESSOR": "stripe", "STRIPE_API_KEY_SECRET_ARN": ARN})
    reader = bootstrap._stripe_api_key(chosen)
    assert reader.__module__ == secrets.__name__ and reader.__qualname__.startswith("processor_secret")
