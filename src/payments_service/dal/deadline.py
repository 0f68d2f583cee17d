"""Every DynamoDB call budgeted by the invocation's remaining time, so the function always answers
(a 503 with Retry-After) before its timeout, never API Gateway's 504.

The SDK's worst case per call is 3 attempts x (1 s connect + 3 s read) plus backoff, and a request
makes up to three calls. A botocore `before-send` hook, run before every attempt (retries
included), starts an attempt only if its connect timeout and a useful read fit in the time left,
and shortens that attempt's read timeout to what is left (botocore reads a per-request
`read_timeout` from the request context). Out of time, the call fails at once with
DeadlineExceeded, which the DAL treats as any transient failure.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The one time budget of an invocation, from which both reserves are derived (issue 18.5):
CONNECT_TIMEOUT_S = 1  # the DynamoDB client's (clients.py)
READ_TIMEOUT_S = 3
# Kept back from the remaining time: a standard-mode backoff the SDK may sleep after the last attempt
# (at most 2 s with 3 attempts) plus building and returning the answer.
ANSWER_RESERVE_MS = 2_500
MIN_READ_S = 0.2  # an attempt with less than this to read its answer is not worth sending
# Under this much time left, no DynamoDB attempt is sent (the hook below refuses it).
REFUSED_UNDER_MS = ANSWER_RESERVE_MS + int((CONNECT_TIMEOUT_S + MIN_READ_S) * 1000)


def processor_commit_reserve_ms(commit_room_ms: int) -> int:
    """How long before the invocation's end the processor call must return: DynamoDB's refusal threshold plus
    `commit_room_ms` for the commit itself. A charge returning exactly at its deadline is then still recorded
    (below the threshold it would be charged, refused by the budget, and left in flight)."""
    return REFUSED_UNDER_MS + commit_room_ms


_deadline: ContextVar[float | None] = ContextVar("dynamodb_deadline", default=None)


class DeadlineExceeded(BotoCoreError):  # type: ignore[misc]  # botocore ships no type hints
    fmt = "No time left in this invocation for another DynamoDB attempt"


@contextmanager
def budget(remaining_ms: int | None) -> Iterator[None]:
    """DynamoDB calls made inside are budgeted by `remaining_ms` (None: unbudgeted, e.g. scripts)."""
    deadline = None if remaining_ms is None else time.monotonic() + (remaining_ms - ANSWER_RESERVE_MS) / 1000
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def attach(client: DynamoDBClient) -> None:
    """Budget every attempt `client` sends by the deadline of the current `budget` block."""
    config = client.meta.config
    connect_s = float(config.connect_timeout or 0)
    read_s = float(config.read_timeout or 0)

    def before_send(request: Any, **_: Any) -> None:
        deadline = _deadline.get()
        if deadline is None:
            return
        left = deadline - time.monotonic()
        if left < connect_s + MIN_READ_S:
            raise DeadlineExceeded()  # not retried by the SDK: only its connection errors are
        request.context["read_timeout"] = min(read_s, left - connect_s)

    client.meta.events.register("before-send.dynamodb", before_send, unique_id="payments-deadline-budget")
