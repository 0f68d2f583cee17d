"""Sorting boto3 failures into 'try again later' and everything else, and the one translation at the boundary."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from .deadline import DeadlineExceeded

_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        # Global tables in strong consistency: another Region is writing the item; the same request may succeed.
        "ReplicatedWriteConflictException",
    }
)
_TRANSIENT_REASONS = frozenset({"ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded"})


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_transient(error: BaseException) -> bool:
    # Read and connect timeouts are subclasses of these two; a spent budget is as good as a timeout.
    if isinstance(error, (ConnectionError, HTTPClientError, DeadlineExceeded)):
        return True
    if isinstance(error, ClientError):
        if error_code(error) in _TRANSIENT_CODES:
            return True
        if int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)) >= 500:
            return True
        reasons = error.response.get("CancellationReasons") or []
        return any(r.get("Code") in _TRANSIENT_REASONS for r in reasons)
    return False


@contextmanager
def unavailable_as(unavailable: Callable[[str], Exception]) -> Iterator[None]:
    """The DynamoDB boundary: a transient failure leaves as `unavailable(code)`; anything else (a refused
    condition included, which the caller reads) passes unchanged."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        if is_transient(error):
            raise unavailable(error_code(error) if isinstance(error, ClientError) else type(error).__name__) from error
        raise
