"""SnapStart priming (issue 23): the before-snapshot hook runs the first request's lazy work and records
nothing; after a restore, cached secrets are read anew."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from payments_service.dal.priming import PRIMING_KEY
from tests.support import COMPLETIONS

# The first request's calls, per completion: tables without transactions (the sequential one) are never sent one.
FIRST_CALLS = {
    "transaction": ["GetItem", "PutItem", "TransactWriteItems"],
    "sequential": ["GetItem", "PutItem", "UpdateItem"],
}


@pytest.mark.parametrize("completion", COMPLETIONS, indirect=True)
def test_priming_runs_the_first_call_path_and_writes_nothing(
    deps: Any, settings: Any, dynamodb: Any, completion: str
) -> None:
    from payments_service import bootstrap
    from payments_service.handlers.priming import prime

    bootstrap.use(deps)
    before = len(dynamodb.app.calls)
    try:
        assert prime() == {"models": True, "dynamodb": True}
    finally:
        bootstrap.use(None)
    assert dynamodb.app.calls[before:] == FIRST_CALLS[completion]
    got = dynamodb.client.get_item(TableName=settings.idempotency_table, Key={"id": {"S": PRIMING_KEY}})
    assert "Item" not in got


def test_a_failed_priming_call_is_reported_and_never_raised() -> None:
    from botocore.exceptions import EndpointConnectionError

    from payments_service.dal.priming import prime_dynamodb

    class Unreachable:
        def get_item(self, **_: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    assert prime_dynamodb(Unreachable(), "keys") is False  # type: ignore[arg-type]


def test_after_a_restore_a_cached_secret_is_read_again() -> None:
    from payments_service import bootstrap
    from payments_service.dal.secrets import processor_secret

    class Rotating:
        def __init__(self) -> None:
            self.value, self.reads = "sk_test_before", 0

        def get_secret_value(self, **_: Any) -> dict[str, str]:
            self.reads += 1
            return {"SecretString": self.value}

    store = Rotating()
    read = processor_secret("arn:aws:secretsmanager:us-east-1:000000000000:secret:k", 300, client=lambda: store)
    assert read() == "sk_test_before" and read() == "sk_test_before" and store.reads == 1  # cached
    store.value = "sk_test_rotated"  # rotated while the snapshot slept
    bootstrap.after_restore()
    assert read() == "sk_test_rotated" and store.reads == 2


def test_a_snapstart_init_registers_priming_before_the_snapshot() -> None:
    script = textwrap.dedent(
        """
        import snapshot_restore_py
        from payments_service.handlers import api  # init
        from payments_service.handlers.priming import prime
        hooks = [hook for hook, _, _ in snapshot_restore_py.get_before_snapshot()]
        print(prime in hooks)
        """
    )
    env = {
        **os.environ,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
        "IDEMPOTENCY_TABLE_NAME": "t-IdempotencyTable",
        "PAYMENTS_TABLE_NAME": "t-PaymentsTable",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
