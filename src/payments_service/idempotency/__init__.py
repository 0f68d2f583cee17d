"""A generic idempotency engine: claim, lease, takeover, fencing, completion, release, replay.

Knows nothing of payments, HTTP or DynamoDB: callers hand it an operation and an opaque result to
record; a store (the port in store.py) persists it. An HTTP route, a queue record and a scheduled
job all run through the same engine.
"""

from .engine import IdempotencyEngine
from .errors import IdempotencyError, KeyInUse, KeyReused, ReferenceExpired, TemporarilyUnavailable
from .records import IdempotencyRecord, Status
from .requests import Claim, Completion, IdempotentRequest, InFlightPolicy, Outcome, Recovery, Verdict
from .store import IdempotencyStore, RecordConflict, StoreUnavailable, WriteRejected

__all__ = [
    "Claim",
    "Completion",
    "IdempotencyEngine",
    "IdempotencyError",
    "IdempotencyRecord",
    "IdempotencyStore",
    "IdempotentRequest",
    "InFlightPolicy",
    "KeyInUse",
    "KeyReused",
    "Outcome",
    "RecordConflict",
    "Recovery",
    "ReferenceExpired",
    "Status",
    "StoreUnavailable",
    "TemporarilyUnavailable",
    "Verdict",
    "WriteRejected",
]
