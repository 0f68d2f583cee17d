"""Runs the real Lambda handler in-process against the embedded DynamoDB, as `sam local` would in Docker."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

from . import template
from .embedded_dynamodb import EmbeddedDynamoDB
from .lambda_context import LocalLambdaContext
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


def local_environment(endpoint: str, table_names: dict[str, str]) -> dict[str, str]:
    return {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "POWERTOOLS_DEV": "false",
        **template.environment(table_names),
    }


class LocalRuntime:
    """Embedded DynamoDB + tables from template.yaml + the handler imported from the function's CodeUri."""

    def __init__(self, dynamodb_port: int = 0, overrides: dict[str, str] | None = None) -> None:
        self.dynamodb = EmbeddedDynamoDB(port=dynamodb_port)
        self._overrides = overrides or {}
        self.handler: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None
        self.table_names: dict[str, str] = {}

    def start(self) -> LocalRuntime:
        import boto3

        self.dynamodb.start()
        os.environ.update(FAKE_CREDENTIALS)
        client = boto3.client("dynamodb", endpoint_url=self.dynamodb.endpoint, region_name="us-east-1")
        self.table_names = create_tables(client)
        chosen = {name: os.environ[name] for name in PASS_THROUGH if os.environ.get(name)}
        os.environ.update(local_environment(self.dynamodb.endpoint, self.table_names))
        os.environ.update(chosen)
        os.environ.update(self._overrides)
        module_name, function_name = template.handler_path().rsplit(".", 1)
        self.handler = getattr(importlib.import_module(module_name), function_name)
        return self

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.handler is not None, "start() first"
        return self.handler(event, LocalLambdaContext(template.timeout_seconds()))

    def stop(self) -> None:
        self.dynamodb.stop()

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
