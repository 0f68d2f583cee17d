"""One time budget (issue 18.5): the processor's deadline leaves DynamoDB the time it needs to record the charge."""

from __future__ import annotations

import time
from typing import Any

from payments_service.dal.deadline import REFUSED_UNDER_MS, processor_commit_reserve_ms
from payments_service.domain.processor import Charge
from payments_service.idempotency.records import Status
from tests.support import payment_event, unique, visa


class UsesAllItsTime:
    """A processor that returns exactly at the deadline it was given (the slowest answer it may give)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.timeouts: list[float | None] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def charge(self, **kwargs: Any) -> Charge:
        self.timeouts.append(kwargs.get("timeout_s"))
        time.sleep(kwargs["timeout_s"])
        charge: Charge = self.inner.charge(**kwargs)
        return charge


def test_the_processor_deadline_keeps_more_than_what_dynamodb_refuses_under(settings: Any) -> None:
    assert processor_commit_reserve_ms(settings.processor_commit_room_ms) > REFUSED_UNDER_MS


def test_a_charge_returning_exactly_at_its_deadline_is_still_recorded(make_world: Any, processor: Any) -> None:
    slow = UsesAllItsTime(processor)
    world = make_world(processor=slow)
    who, key = f"arn:aws:iam::111111111111:user/{unique('tb')}", unique("k")
    remaining_ms = processor_commit_reserve_ms(world.settings.processor_commit_room_ms) + 800
    answer = world.call(payment_event(key, visa(), merchant=who), remaining_ms=remaining_ms)
    # Charged at the very end of the processor's time, and recorded: no false 503, no key left in flight
    assert slow.timeouts and slow.timeouts[0] is not None and slow.timeouts[0] > 0
    assert answer.status == 201, answer.body
    assert world.record(who, key).status is Status.COMPLETED
