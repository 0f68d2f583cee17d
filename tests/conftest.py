"""Fixtures: one embedded (serialized moto) DynamoDB per session, tables from template.yaml."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.embedded_dynamodb import EmbeddedDynamoDB
from local.runtime import local_environment
from local.tables import create_tables
from tests.support import COMPLETIONS, FakeClock, FakeContext

# Fake credentials before anything can build a boto3 client; nothing may reach AWS.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    IDEMPOTENCY_TABLE_NAME="test-IdempotencyTable",
    PAYMENTS_TABLE_NAME="test-PaymentsTable",
    REFUNDS_TABLE_NAME="test-RefundsTable",
    POWERTOOLS_SERVICE_NAME="payments",
    POWERTOOLS_METRICS_NAMESPACE="IdempotentPayments",
)
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def dynamodb() -> Iterator[EmbeddedDynamoDB]:
    import boto3

    with EmbeddedDynamoDB() as db:
        client = boto3.client("dynamodb", endpoint_url=db.endpoint)
        names = create_tables(client, prefix="test")
        os.environ.update(local_environment(db.endpoint, names))
        db.client = client  # type: ignore[attr-defined]
        yield db


@pytest.fixture
def faults(dynamodb: EmbeddedDynamoDB) -> Iterator[Any]:
    dynamodb.app.faults.clear()
    yield dynamodb.app.faults
    dynamodb.app.faults.clear()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time_ns() // 1_000_000)


@pytest.fixture
def processor() -> Any:
    from payments_service.processors.sandbox import SandboxProcessor

    return SandboxProcessor(slow_seconds=0.3)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The suites that prove the promise (a module, or a package's conftest, setting RUNS_ON_BOTH_COMPLETIONS)
    run each test that builds on `settings` on every completion, unless the test parametrizes `completion`."""
    conftest = sys.modules.get(f"{metafunc.module.__package__}.conftest")
    wanted = any(getattr(m, "RUNS_ON_BOTH_COMPLETIONS", False) for m in (metafunc.module, conftest))
    pinned = any("completion" in str(m.args[0]) for m in metafunc.definition.iter_markers("parametrize"))
    if wanted and "completion" in metafunc.fixturenames and not pinned:
        metafunc.parametrize("completion", COMPLETIONS, indirect=True)


@pytest.fixture
def completion(request: pytest.FixtureRequest) -> str:
    """IDEMPOTENCY_COMPLETION for this test: the default, or each of COMPLETIONS where a suite asks for both."""
    return str(getattr(request, "param", "transaction"))


@pytest.fixture
def settings(dynamodb: EmbeddedDynamoDB, completion: str) -> Any:
    from payments_service.models.settings import Settings

    return Settings.from_env().model_copy(update={"idempotency_completion": completion})


@pytest.fixture(autouse=True)
def _collaborators_put_back() -> Iterator[None]:
    """Whatever a test wires with bootstrap.use is undone after it: no test inherits another's."""
    from payments_service import bootstrap

    with bootstrap.using(None):
        yield


@pytest.fixture
def deps(settings: Any, processor: Any, clock: FakeClock) -> Any:
    from payments_service import bootstrap

    return bootstrap.build(settings, processor=processor, clock=clock)


@pytest.fixture
def invoke(deps: Any) -> Iterator[Callable[..., dict[str, Any]]]:
    """Call the real Lambda handler with an event, using this test's collaborators."""
    from payments_service import bootstrap
    from payments_service.handlers import api

    bootstrap.use(deps)

    def call(event: dict[str, Any], remaining_ms: int = 20_000) -> dict[str, Any]:
        with contextlib.redirect_stdout(io.StringIO()):  # Powertools logs and EMF metrics
            return api.lambda_handler(event, FakeContext(remaining_ms))

    yield call


@pytest.fixture
def stripe_double() -> Iterator[Any]:
    """The Stripe test double on a free 127.0.0.1 port, stopped after the test."""
    from tests.stripe_double import StripeDouble

    with StripeDouble(slow_seconds=0.5) as double:
        yield double


@pytest.fixture
def stripe_processor(stripe_double: Any) -> Any:
    """The real Stripe adapter (and SDK) pointed at the double: two SDK retries, short attempts."""
    from payments_service.processors.stripe import StripeProcessor
    from tests.stripe_double.server import TEST_KEY

    return StripeProcessor(lambda: TEST_KEY, api_base=stripe_double.url, max_network_retries=2, attempt_timeout_s=1.0)
