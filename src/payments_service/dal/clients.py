"""boto3 clients, created on first use and reused for the life of the execution environment.

Built by botocore's session, which is what boto3.client does underneath: boto3 itself adds only resources
and S3 transfers (its import loads s3transfer, ~10 ms of a cold start no client here uses)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def _client(service: str) -> Any:
    """The process-wide client of `service`. botocore reads AWS_ENDPOINT_URL_<SERVICE> for local endpoints."""
    client = _clients.get(service)
    if client is None:
        with _lock:
            client = _clients.get(service)
            if client is None:
                # imported here: a cold start pays for them only when a route needs them
                from botocore.config import Config
                from botocore.session import get_session

                from . import one_service_loader
                from .deadline import CONNECT_TIMEOUT_S, READ_TIMEOUT_S

                # Three attempts in all, short timeouts, so a failing dependency ends in a 503 with Retry-After.
                config = Config(
                    retries={"mode": "standard", "total_max_attempts": 3},
                    connect_timeout=CONNECT_TIMEOUT_S,  # the time budget (deadline.py) counts on these
                    read_timeout=READ_TIMEOUT_S,
                    tcp_keepalive=True,
                )
                session = get_session()
                one_service_loader.use_for(session, service)  # skips botocore's walk of every service it ships
                client = session.create_client(service, config=config)
                if service == "dynamodb":
                    from .deadline import attach

                    attach(client)  # and each call within the invocation's remaining time (see deadline.py)
                _clients[service] = client
    return client


def dynamodb_client() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client


def sqs_client() -> Any:
    """Dead letters of the queue consumer."""
    return _client("sqs")
