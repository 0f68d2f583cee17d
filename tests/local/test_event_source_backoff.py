"""The local queue's poller at rest (issue 23): it backs off while the queue is empty, so an idle `make run`
costs ~0 % of a core, and a message after a quiet minute still starts within a second. Proved on the
schedule the poller follows (a fake queue and a recording pause), never on wall-clock timing."""

from __future__ import annotations

import io
import threading
from typing import Any

from local.event_source import MAX_IDLE_PAUSE_SECONDS, SqsEventSource, idle_pause


class _Queue:
    """Answers receive_message from a script: a list of batches, [] for an empty receive."""

    def __init__(self, script: list[list[dict[str, Any]]]) -> None:
        self.script = script
        self.receives = 0

    def receive_message(self, **_: Any) -> dict[str, Any]:
        self.receives += 1
        return {"Messages": self.script.pop(0)} if self.script else {}

    def delete_message_batch(self, **_: Any) -> None:
        pass


def _message(n: int) -> dict[str, Any]:
    return {"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": "{}", "Attributes": {}}


def test_the_pause_doubles_while_empty_and_is_capped_under_a_second() -> None:
    assert [idle_pause(n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 0.8, 0.8]
    assert MAX_IDLE_PAUSE_SECONDS < 1  # the first message after any quiet spell starts within a second


def test_a_quiet_minute_costs_a_few_dozen_receives_not_six_hundred() -> None:
    # Given the schedule, how many receives fit in 60 s of an empty queue (the 0.1 s short poll made 600)
    elapsed, receives = 0.0, 0
    while elapsed < 60:
        receives += 1
        elapsed += idle_pause(receives)
    assert receives <= 80


def test_the_poller_follows_the_schedule_and_starts_again_after_a_message() -> None:
    queue = _Queue([[], [], [], [], [], [_message(1)], [], []])
    pauses: list[float] = []
    invoked = threading.Event()
    source: SqsEventSource

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 7:
            source._stop.set()  # enough seen: end the poller's loop

    def invoke(event: dict[str, Any], timeout: float) -> None:
        invoked.set()

    source = SqsEventSource(
        queue, "url", "arn:aws:sqs:us-east-1:000000000000:q", 10, 1, invoke, 1.0, log=io.StringIO(), pause=pause
    )
    source._poll()  # on this thread: the pauses are recorded, never slept
    assert invoked.wait(5)
    source.stop(5)
    # Five empty receives back off 0.1 -> 0.8; the message resets it; the next empty receives start at 0.1
    assert pauses == [0.1, 0.2, 0.4, 0.8, 0.8, 0.1, 0.2]
