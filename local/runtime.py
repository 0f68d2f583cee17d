"""The function as Lambda runs it, on this machine: an embedded DynamoDB with the template's tables and a
pool of execution environments (worker processes) that import the handler from the function's CodeUri."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import IO, Any

from . import template
from .embedded_dynamodb import EmbeddedDynamoDB
from .environments import MEMORY_MB, EnvironmentPool, Invocation
from .tables import create_tables

# The developer's choice wins over the template's defaults: `make run PAYMENT_PROCESSOR=stripe STRIPE_API_KEY=…`.
PASS_THROUGH = ("PAYMENT_PROCESSOR", "STRIPE_API_KEY", "STRIPE_API_BASE", "PROCESSOR_IDEMPOTENCY_WINDOW_SECONDS")

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
# API Gateway gives up on an integration after 29 s; a request waiting for a free environment does too.
INTEGRATION_TIMEOUT_SECONDS = 29.0


def local_environment(endpoint: str, table_names: dict[str, str]) -> dict[str, str]:
    return {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "POWERTOOLS_DEV": "false",
        **template.environment(table_names),
    }


def function_environment(endpoint: str, table_names: dict[str, str], overrides: dict[str, str]) -> dict[str, str]:
    """A worker's environment: this one without AWS settings, then what Lambda and the template set."""
    code_uri = template.code_uri()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # CodeUri first, as /var/task on Lambda; the project root so `-m local.worker` imports without an install.
    path = os.pathsep.join([str(code_uri), str(template.ROOT), inherited.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {
        **inherited,
        "PYTHONPATH": path,
        "LAMBDA_TASK_ROOT": str(code_uri),
        "AWS_LAMBDA_FUNCTION_NAME": template.function()[0],
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(MEMORY_MB),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        **local_environment(endpoint, table_names),
        **overrides,
    }


class LocalRuntime:
    """Embedded DynamoDB + the template's tables (+ optional saved state) + up to `concurrency` environments."""

    def __init__(
        self,
        dynamodb_port: int = 0,
        overrides: dict[str, str] | None = None,
        concurrency: int = 4,
        state: Path | None = None,
        log: IO[str] | None = None,
    ) -> None:
        self.dynamodb = EmbeddedDynamoDB(port=dynamodb_port, state=state)
        self._overrides = overrides or {}
        self._concurrency = concurrency
        self._log = log or sys.stderr
        self.pool: EnvironmentPool | None = None
        self.table_names: dict[str, str] = {}
        self.restored: dict[str, int] = {}

    def start(self) -> LocalRuntime:
        import boto3

        self.dynamodb.start()
        client = boto3.client(
            "dynamodb",
            endpoint_url=self.dynamodb.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
        )
        self.table_names = create_tables(client)
        self.restored = self.dynamodb.restore_state()
        # The developer's choice wins over the template's defaults.
        chosen = {name: os.environ[name] for name in PASS_THROUGH if os.environ.get(name)}
        self.pool = EnvironmentPool(
            self._concurrency,
            template.handler_path(),
            template.timeout_seconds(),
            function_environment(self.dynamodb.endpoint, self.table_names, {**chosen, **self._overrides}),
            template.code_uri(),
            self._log,
        )
        return self

    def invoke(self, event: dict[str, Any], wait_seconds: float = INTEGRATION_TIMEOUT_SECONDS) -> Invocation | None:
        """Run one event in a free environment (None if none freed up in time); raises EnvironmentFailed."""
        assert self.pool is not None, "start() first"
        return self.pool.invoke(event, str(uuid.uuid4()), wait_seconds)  # Lambda's own id, not API Gateway's

    def stop(self, grace_seconds: float = 0) -> None:
        if self.pool is not None:
            self.pool.close(grace_seconds)
        self.dynamodb.stop()

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
