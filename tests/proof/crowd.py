"""A crowd of clients retrying one request together: the rig the concurrency suites share."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.proof.exactly_once import obeying
from tests.proof.oracle import Answer
from tests.proof.rig import Rig

THREADS = 16
MAX_ATTEMPTS = 200
REMAINING_MS = 20_000


def retrying_crowd(rig: Rig, event: dict[str, Any], threads: int = THREADS) -> list[list[Answer]]:
    """`threads` clients fire `event` together and retry until answered: after a 500 the client waits out
    the dead invocation's lease (the rig's clock is frozen otherwise), after a 503 it obeys Retry-After,
    after a 409 it backs off briefly (news of any other answer sends everyone straight back). Returns
    each client's answers in order; fails if one is still unanswered after MAX_ATTEMPTS."""
    start = threading.Barrier(threads)
    news = threading.Condition()

    def announce() -> None:
        with news:
            news.notify_all()

    def client(_: int) -> list[Answer]:
        seen: list[Answer] = []
        start.wait(10)
        for _attempt in range(MAX_ATTEMPTS):
            answer = rig.call(event, REMAINING_MS)
            seen.append(answer)
            if answer.status == 500:
                rig.clock.advance(REMAINING_MS + 1)
                announce()
            elif answer.status == 503:
                rig.clock.advance(obeying(answer, 0))
                announce()
            elif answer.status == 409:
                with news:
                    news.wait(0.05)
            else:
                announce()
                return seen
        raise AssertionError(f"no answer after {MAX_ATTEMPTS} attempts: {seen[-3:]}")

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(client, range(threads)))
