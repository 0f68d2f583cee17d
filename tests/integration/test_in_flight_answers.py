"""A duplicate of a request still running: a short poll hint, or (opt-in) the first request's own result."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import FakeContext, payment_event, unique, visa


def _header(response: dict[str, Any], name: str) -> str | None:
    values = (response.get("multiValueHeaders") or {}).get(name) or []
    return values[0] if values else (response.get("headers") or {}).get(name)


@pytest.fixture
def invoke_with(settings: Any, processor: Any, clock: Any) -> Iterator[Callable[..., Callable[..., dict[str, Any]]]]:
    """The real handler, with settings changed for this test."""
    from payments_service import bootstrap
    from payments_service.handlers import api

    def make(**changes: Any) -> Callable[..., dict[str, Any]]:
        bootstrap.use(bootstrap.build(settings.model_copy(update=changes), processor=processor, clock=clock))

        def call(event: dict[str, Any], remaining_ms: int = 20_000) -> dict[str, Any]:
            with contextlib.redirect_stdout(io.StringIO()):
                return api.lambda_handler(event, FakeContext(remaining_ms))

        return call

    yield make


class HeldCharge:
    """Holds the first charge until released (or `hold_s` passes), so a duplicate arrives mid-flight."""

    def __init__(self, processor: Any, hold_s: float = 10) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        processor._sleep = lambda seconds: (self.entered.set(), self.release.wait(hold_s))


def _first_in_flight(call: Callable[..., dict[str, Any]], event: dict[str, Any]) -> tuple[threading.Thread, list[Any]]:
    results: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: results.append(call(event)))
    thread.start()
    return thread, results


def test_the_409_retry_after_is_a_short_poll_hint_not_the_lease(invoke_with: Any, processor: Any) -> None:
    call = invoke_with()
    held = HeldCharge(processor)
    event = payment_event(unique("k"), visa(source="tok_slow"))
    first, results = _first_in_flight(call, event)
    assert held.entered.wait(5)
    conflict = call(event)  # the first request's lease runs about 19.5 s more
    held.release.set()
    first.join()
    assert conflict["statusCode"] == 409 and _header(conflict, "Retry-After") == "1"
    assert results[0]["statusCode"] == 201


def test_the_poll_hint_is_configurable(invoke_with: Any, processor: Any) -> None:
    call = invoke_with(inflight_retry_after_seconds=3)
    held = HeldCharge(processor)
    event = payment_event(unique("k"), visa(source="tok_slow"))
    first, _ = _first_in_flight(call, event)
    assert held.entered.wait(5)
    conflict = call(event)
    held.release.set()
    first.join()
    assert conflict["statusCode"] == 409 and _header(conflict, "Retry-After") == "3"


def test_with_a_server_side_wait_the_duplicate_replays_the_first_result(invoke_with: Any, processor: Any) -> None:
    call = invoke_with(inflight_wait_ms=5_000, inflight_poll_ms=50)
    held = HeldCharge(processor)
    event = payment_event(unique("k"), visa(source="tok_slow"))
    first, results = _first_in_flight(call, event)
    assert held.entered.wait(5)
    threading.Timer(0.3, held.release.set).start()  # the first request finishes while the duplicate waits
    duplicate = call(event)
    first.join()
    assert results[0]["statusCode"] == 201 and _header(results[0], "Idempotent-Replayed") is None
    assert duplicate["statusCode"] == 201 and _header(duplicate, "Idempotent-Replayed") == "true"
    assert duplicate["body"] == results[0]["body"]


@pytest.mark.parametrize(
    ("wait_ms", "remaining_ms", "bound_ms"),
    [
        pytest.param(400, 20_000, 400 + 300, id="bounded-by-the-wait"),  # + one last read of the key
        pytest.param(30_000, 4_000, 4_000, id="bounded-by-its-own-remaining-time"),
    ],
)
def test_the_wait_is_bounded_then_the_answer_is_409(
    invoke_with: Any, processor: Any, wait_ms: int, remaining_ms: int, bound_ms: int
) -> None:
    call = invoke_with(inflight_wait_ms=wait_ms, inflight_poll_ms=50)
    held = HeldCharge(processor, hold_s=15)
    event = payment_event(unique("k"), visa(source="tok_slow"))
    first, results = _first_in_flight(call, event)
    assert held.entered.wait(5)
    started = time.monotonic()
    duplicate = call(event, remaining_ms=remaining_ms)
    waited_ms = (time.monotonic() - started) * 1000
    held.release.set()
    first.join()
    assert duplicate["statusCode"] == 409 and _header(duplicate, "Retry-After") == "1"
    assert waited_ms < bound_ms, waited_ms
    assert waited_ms >= min(wait_ms, 300)  # it did wait (a short slice at least) before answering
    assert results[0]["statusCode"] == 201
