"""`make run PAYMENT_PROCESSOR=stripe` against the Stripe test double, checked by `idempotency-check --sources
stripe-double`: every check passes, and at the double each PaymentIntent and each Refund has its own single
Idempotency-Key."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.stripe_double import Endpoint, StripeDouble
from tests.stripe_double.server import TEST_KEY

from .conftest import ROOT, no_aws_environment, serving


@pytest.fixture(scope="module")
def double() -> Iterator[StripeDouble]:
    with StripeDouble(slow_seconds=1.0) as running:
        yield running


@pytest.fixture(scope="module")
def stripe_server(double: StripeDouble, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """What `make run PAYMENT_PROCESSOR=stripe STRIPE_API_KEY=… STRIPE_API_BASE=…` starts, on a free port."""
    stripe = {"PAYMENT_PROCESSOR": "stripe", "STRIPE_API_KEY": TEST_KEY, "STRIPE_API_BASE": double.url}
    env = {**no_aws_environment(), **stripe}
    with serving(tmp_path_factory.mktemp("stripe-server"), env) as url:
        yield url


def test_the_local_stripe_run_passes_every_check_with_one_key_per_payment_intent_and_refund(
    stripe_server: str, double: StripeDouble
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.idempotency_check", stripe_server, "--local", "--sources", "stripe-double"],
        cwd=ROOT,
        env={**no_aws_environment(), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # At Stripe: one PaymentIntent per key that executed, and every PaymentIntent under one key only.
    intents: list[dict[str, Any]] = double.intents
    executed = [s for s in double.seen if not s.replayed and s.status in (200, 402)]
    assert len(intents) == len(executed) >= 5
    per_reference = Counter(i["metadata"]["idempotency_reference"] for i in intents)
    assert set(per_reference.values()) == {1}
    assert {s.idempotency_key for s in executed} == set(per_reference)
    # Refunds alike: one Refund per key that executed, and every Refund under one key only.
    refunds: list[dict[str, Any]] = double.refunds
    refunded = [s for s in double.requests(Endpoint.REFUNDS) if not s.replayed and s.status == 200]
    assert len(refunds) == len(refunded) >= 10
    per_refund_reference = Counter(r["metadata"]["idempotency_reference"] for r in refunds)
    assert set(per_refund_reference.values()) == {1}
    assert {s.idempotency_key for s in refunded} == set(per_refund_reference)
