"""Every way a request ends, driven through the real handler: its log line's level, outcome and status and
its metric agree with each other and with the answer (handlers/observability.py, README's outcome table)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import FakeContext, get_event, payment_event, unique, visa

README = Path(__file__).resolve().parents[2] / "README.md"


def _captured(call: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """The answer, the Powertools log lines and the EMF metric names one call printed."""
    from payments_service.handlers.observability import logger

    out = io.StringIO()
    handler = logger.registered_handler  # bound to the stdout of its creation: point it here for the call
    previous = handler.setStream(out)  # type: ignore[attr-defined]
    try:
        with contextlib.redirect_stdout(out):  # EMF metrics are printed
            answer = call()
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    metrics = [m["Name"] for line in lines if "_aws" in line for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    return answer, [line for line in lines if "_aws" not in line], metrics


class _Bug(Exception):
    """Outside every error family: a bug."""


@pytest.fixture
def serve(settings: Any, processor: Any, clock: Any) -> Iterator[Callable[..., Any]]:
    """The real API handler on this test's collaborators; returns (answer, log lines, metric names)."""
    from payments_service import bootstrap
    from payments_service.handlers import api

    bootstrap.use(bootstrap.build(settings, processor=processor, clock=clock))

    def call(event: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
        return _captured(lambda: api.lambda_handler(event, FakeContext()))

    yield call


def _assert_told_truthfully(
    served: tuple[dict[str, Any], list[dict[str, Any]], list[str]], status: int, outcome: str, level: str
) -> dict[str, Any]:
    from payments_service.handlers.observability import metric_name

    answer, lines, metrics = served
    assert answer["statusCode"] == status, answer
    (request,) = [line for line in lines if line.get("message") == "request"]
    assert (request["level"], request["outcome"], request["status"]) == (level, outcome, status), request
    assert metrics == [metric_name(outcome)], metrics
    # One line per request: no second 'unhandled error' line beside it
    assert [line for line in lines if line is not request] == [], lines
    # A traceback exactly where someone must act
    assert ("exception" in request) == (level == "ERROR"), request
    return request


def _pay(merchant: str, key: str | None, **body: Any) -> dict[str, Any]:
    return payment_event(key, visa(**body), merchant=merchant)


def test_answers_as_designed_are_info_each_with_its_status_and_metric(serve: Any) -> None:
    merchant, key = unique("m"), unique("k")
    _assert_told_truthfully(serve(_pay(merchant, key)), 201, "created", "INFO")
    _assert_told_truthfully(serve(_pay(merchant, key)), 201, "replayed", "INFO")
    _assert_told_truthfully(serve(_pay(merchant, unique("k"), source="tok_chargeDeclined")), 402, "declined", "INFO")
    three_ds = serve(_pay(merchant, unique("k"), source="tok_threeDSecureRequired"))
    _assert_told_truthfully(three_ds, 202, "requires_action", "INFO")
    _assert_told_truthfully(serve(_pay(merchant, None)), 400, "invalid", "INFO")
    _assert_told_truthfully(serve(_pay(merchant, key, amount=7)), 422, "mismatch", "INFO")
    _assert_told_truthfully(serve(get_event("pay_" + "0" * 24, merchant=merchant)), 404, "not_found", "INFO")
    _assert_told_truthfully(serve(_pay(None, unique("k"))), 401, "unauthenticated", "INFO")  # type: ignore[arg-type]
    too_big = payment_event(unique("k"), visa(description="x" * 17_000), merchant=merchant)
    _assert_told_truthfully(serve(too_big), 413, "invalid", "INFO")


def test_a_processor_that_is_down_is_a_warning_without_a_traceback(serve: Any) -> None:
    served = serve(_pay(unique("m"), unique("k"), source="tok_processingError"))
    request = _assert_told_truthfully(served, 503, "processor_unavailable", "WARNING")
    # Which failure, by class name only (never a message: it may quote a token)
    assert (request["error"], request["cause"]) == ("TemporarilyUnavailable", "ProcessorUnavailable")


def test_a_throttled_table_is_a_warning_with_its_own_metric(serve: Any, faults: Any) -> None:
    from payments_service.dal.clients import dynamodb_client

    attempts = int(dynamodb_client().meta.config.retries["total_max_attempts"])
    faults.add("PutItem", status=400, code="ThrottlingException", times=attempts)
    served = serve(_pay(unique("m"), unique("k")))
    request = _assert_told_truthfully(served, 503, "unavailable", "WARNING")
    assert request["cause"] == "StoreUnavailable"


def test_a_key_in_flight_is_a_warning_409(serve: Any, processor: Any) -> None:
    entered, release = threading.Event(), threading.Event()
    processor._sleep = lambda seconds: (entered.set(), release.wait(10))
    merchant, key = unique("m"), unique("k")
    first = threading.Thread(target=lambda: serve(_pay(merchant, key, source="tok_slow")))
    first.start()
    try:
        assert entered.wait(10)
        # The first request sits inside its charge (it logs and counts nothing until it returns)
        _assert_told_truthfully(serve(_pay(merchant, key, source="tok_slow")), 409, "in_flight", "WARNING")
    finally:
        release.set()
        first.join(10)


def _misconfigured() -> Exception:
    from payments_service.domain.processor import ProcessorMisconfigured

    return ProcessorMisconfigured("credentials refused")


@pytest.mark.parametrize(
    ("raised", "status", "outcome"),
    [
        pytest.param(lambda: _Bug("a bug"), 500, "error", id="bug"),
        pytest.param(_misconfigured, 500, "processor_auth", id="misconfigured"),
    ],
)
def test_ours_to_fix_is_an_error_with_its_traceback(
    settings: Any, processor: Any, clock: Any, raised: Callable[[], Exception], status: int, outcome: str
) -> None:
    from payments_service import bootstrap
    from payments_service.handlers import api

    def charge(**_: Any) -> Any:
        raise raised()

    processor.charge = charge
    bootstrap.use(bootstrap.build(settings, processor=processor, clock=clock))
    try:
        served = _captured(lambda: api.lambda_handler(_pay(unique("m"), unique("k")), FakeContext()))
    finally:
        bootstrap.use(None)
    request = _assert_told_truthfully(served, status, outcome, "ERROR")
    assert type(raised()).__name__ in request["exception"]


def test_a_queued_decline_logs_the_status_the_api_would_answer(settings: Any, processor: Any, clock: Any) -> None:
    from payments_service import bootstrap
    from payments_service.handlers import queue
    from tests.queue.conftest import message

    bootstrap.use(bootstrap.build(settings, processor=processor, clock=clock))
    try:
        record = message(json.dumps(visa(source="tok_chargeDeclined")), unique("k"), unique("m"))
        event = {"Records": [record]}
        _, lines, metrics = _captured(lambda: queue.lambda_handler(event, FakeContext()))
    finally:
        bootstrap.use(None)
    (request,) = [line for line in lines if line.get("message") == "request"]
    assert (request["level"], request["outcome"], request["status"]) == ("INFO", "declined", 402)
    assert metrics == ["PaymentDeclined"]


def test_a_named_outcome_that_contradicts_the_status_is_never_logged() -> None:
    from payments_service.handlers.observability import Observation

    def finished(outcome: str | None, status: int) -> dict[str, Any]:
        observation = Observation("test", outcome=outcome)
        _, lines, _ = _captured(lambda: {"statusCode": status, "outcome": observation.finish(status)})
        (line,) = lines
        return line

    assert (finished("created", 500)["outcome"], finished("created", 500)["level"]) == ("error", "ERROR")
    mislabelled = finished("error", 201)
    assert (mislabelled["outcome"], mislabelled["named_outcome"], mislabelled["level"]) == (
        "unclassified",
        "error",
        "WARNING",
    )
    assert finished(None, 204)["outcome"] == "unclassified"
    assert finished("created", 201)["outcome"] == "created"


def test_every_problem_names_an_outcome_its_status_may_answer() -> None:
    from payments_service.handlers import problems
    from payments_service.handlers.observability import OUTCOMES
    from payments_service.handlers.transport import BodyRejected

    class AnyError:
        """Stands for any mapped error: every attribute a problem reads is there."""

        retry_after_seconds = 1
        remaining = 1
        code = param = "x"
        malformed = False
        errors: list[Any] = []
        __cause__ = None

    built = [problems._INTERNAL] + [
        build(AnyError()) for cls, build in problems._problems().items() if cls is not BodyRejected
    ]
    built += [problems.problem_for(BodyRejected("x", status, "x")) for status in (400, 413, 415)]
    for problem in built:
        assert problem.status in OUTCOMES[problem.outcome].statuses, problem
        # No 5xx at WARNING or INFO but what a dependency causes (503): a 500 is always ours to fix
        if problem.status == 500:
            assert OUTCOMES[problem.outcome].level == "ERROR", problem


def test_the_readme_table_is_the_vocabulary() -> None:
    from payments_service.handlers.observability import OUTCOMES, metric_name

    section = README.read_text().split("### Outcomes, statuses, metrics", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \| `(\w+)` \| (\w+) \|", section, re.MULTILINE)
    assert rows, section
    table = {outcome: (statuses.strip(), metric, level) for outcome, statuses, metric, level in rows}
    assert set(table) == set(OUTCOMES)
    for outcome, (statuses, metric, level) in table.items():
        assert metric == metric_name(outcome) and level == OUTCOMES[outcome].level, outcome
        if outcome != "unclassified":  # "any below 500"
            assert {int(s) for s in re.findall(r"\d{3}", statuses)} == set(OUTCOMES[outcome].statuses), outcome
