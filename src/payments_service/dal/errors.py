"""Sorting boto3 failures into 'try again later' and everything else."""

from __future__ import annotations

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

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
