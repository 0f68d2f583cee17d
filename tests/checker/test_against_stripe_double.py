"""`make run PAYMENT_PROCESSOR=stripe` against the Stripe test double, checked by `idempotency-check --sources
stripe-double`: every check passes, and at the double each PaymentIntent has its own single Idempotency-Key."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.stripe_double import StripeDouble
from tests.stripe_double.server import TEST_KEY

from .conftest import ROOT, STARTUP_SECONDS, free_port, no_aws_environment


@pytest.fixture(scope="module")
def double() -> Iterator[StripeDouble]:
    with StripeDouble(slow_seconds=1.0) as running:
        yield running


@pytest.fixture(scope="module")
def stripe_server(double: StripeDouble, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """What `make run PAYMENT_PROCESSOR=stripe STRIPE_API_KEY=… STRIPE_API_BASE=…` starts, on a free port."""
    log: Path = tmp_path_factory.mktemp("stripe-server") / "server.log"
    port = free_port()
    env = {
        **no_aws_environment(),
        "PAYMENT_PROCESSOR": "stripe",
        "STRIPE_API_KEY": TEST_KEY,
        "STRIPE_API_BASE": double.url,
    }
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.server", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    ready = threading.Event()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("payments API on"):
                ready.set()
        ready.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        if not ready.wait(STARTUP_SECONDS) or process.poll() is not None:
            pytest.fail(f"local server did not start: {log.read_text()}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        reader.join(timeout=5)


def test_the_local_stripe_run_passes_every_check_with_one_key_per_payment_intent(
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
