"""boto3 clients, created on first use and reused for the life of the execution environment."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_lock = threading.Lock()
_dynamodb: DynamoDBClient | None = None
_sqs: Any = None


def dynamodb_client() -> DynamoDBClient:
    """The process-wide DynamoDB client. boto3 reads AWS_ENDPOINT_URL_DYNAMODB for local endpoints."""
    global _dynamodb
    if _dynamodb is None:
        with _lock:
            if _dynamodb is None:
                import boto3  # imported here: a cold start pays for it only when a route needs it
                from botocore.config import Config

                # Three attempts in all, short timeouts, so a failing DynamoDB ends in a 503 with Retry-After.
                config = Config(
                    retries={"mode": "standard", "total_max_attempts": 3},
                    connect_timeout=1,
                    read_timeout=3,
                    tcp_keepalive=True,
                )
                from .deadline import attach

                client = boto3.session.Session().client("dynamodb", config=config)
                attach(client)  # and each call within the invocation's remaining time (see deadline.py)
                _dynamodb = client
    return _dynamodb


def sqs_client() -> Any:
    """The process-wide SQS client (dead letters of the queue consumer). Reads AWS_ENDPOINT_URL_SQS locally."""
    global _sqs
    if _sqs is None:
        with _lock:
            if _sqs is None:
                import boto3
                from botocore.config import Config

                config = Config(
                    retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=1, read_timeout=3
                )
                _sqs = boto3.session.Session().client("sqs", config=config)
    return _sqs
