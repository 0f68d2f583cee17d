"""What a queue consumer does with a message that failed, decided by the error's type alone.

The one map from the error families (domain/errors.py and the engine's idempotency/errors.py) to
queue actions, as handlers/problems.py is the one map to HTTP answers.
"""

from __future__ import annotations

import enum

from ..domain.errors import Busy, Conflict, Invalid, Misconfigured, Refused, Transient
from ..idempotency import KeyInUse, KeyReused, ReferenceExpired, TemporarilyUnavailable
from .idempotency_key import InvalidKey


class QueueAction(enum.Enum):
    RETRY = "retry"  # leave it on the queue: SQS delivers it again after its visibility timeout
    PARK = "park"  # no delivery can ever succeed: the dead-letter queue, with its reason (never charged)


_ACTIONS: dict[type[BaseException], QueueAction] = {
    Transient: QueueAction.RETRY,
    Busy: QueueAction.RETRY,  # the first request with this key is still running: a later delivery finishes
    # An operator fixes it, then a redelivery succeeds; until then maxReceiveCount bounds the tries.
    Misconfigured: QueueAction.RETRY,
    Invalid: QueueAction.PARK,
    Refused: QueueAction.PARK,
    Conflict: QueueAction.PARK,  # someone must look: retrying cannot change what is recorded
    TemporarilyUnavailable: QueueAction.RETRY,
    KeyInUse: QueueAction.RETRY,
    KeyReused: QueueAction.PARK,
    ReferenceExpired: QueueAction.PARK,  # left to reconciliation: a redelivery must not charge again
    InvalidKey: QueueAction.PARK,
}


def queue_action(error: BaseException) -> QueueAction:
    """The action for `error`'s class or its nearest ancestor in the map; anything else (a bug, an error
    outside the families) is retried, as SQS's maxReceiveCount bounds it."""
    for cls in type(error).__mro__:
        if cls in _ACTIONS:
            return _ACTIONS[cls]
    return QueueAction.RETRY
