"""What the redesign added to the HTTP edge: business conditions in the commit, links under the stage,
one log line and metric per request, and the engine's independence from everything around it."""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest

from payments_service.dal.payments_table import to_item
from payments_service.domain.payments import payment_id_for
from payments_service.domain.processor import Charge
from payments_service.domain.stored_payments import StoredPayment
from payments_service.idempotency.records import Status
from tests.proof.oracle import key_record
from tests.support import COMPLETIONS, FakeContext, get_event, payment_event, payments_of, unique, visa

SRC = Path(__file__).resolve().parents[2] / "src" / "payments_service"


def _merchant() -> str:
    return f"arn:aws:iam::111111111111:user/{unique('m')}"


class SquattingProcessor:
    """Charges, but a payment record with the id this charge will get already exists (a business
    condition the completion transaction must refuse): only hand-made data could do this."""

    def __init__(self, inner: Any, client: Any, table: str) -> None:
        self.inner, self.client, self.table = inner, client, table
        self.squatters: list[str] = []

    def charge(self, *, reference: str, amount: int, currency: str, source: str, **budget: Any) -> Charge:
        charge = self.inner.charge(reference=reference, amount=amount, currency=currency, source=source, **budget)
        squatter = StoredPayment(
            id=payment_id_for(reference),
            merchant_id="someone-else",
            processor_payment_id="ch_squatter",
            amount=1,
            currency="EUR",
            created_at="2026-01-01T00:00:00.000Z",
        )
        self.client.put_item(TableName=self.table, Item=to_item(squatter))
        self.squatters.append(squatter.id)
        return charge


@pytest.mark.parametrize("completion", COMPLETIONS, indirect=True)
def test_a_business_condition_failing_in_the_commit_answers_a_problem_and_frees_the_key(
    dynamodb: Any, settings: Any, processor: Any, clock: Any
) -> None:
    from payments_service import bootstrap
    from payments_service.handlers import api

    squatting = SquattingProcessor(processor, dynamodb.client, settings.payments_table)
    bootstrap.use(bootstrap.build(settings, processor=squatting, clock=clock))
    try:
        merchant, key = _merchant(), unique("k")
        with contextlib.redirect_stdout(io.StringIO()):
            answer = api.lambda_handler(payment_event(key, visa(), merchant=merchant), FakeContext())
    finally:
        bootstrap.use(None)
    # The use case's chosen problem, not a 500
    assert answer["statusCode"] == 409, answer
    assert json.loads(answer["body"])["type"] == "urn:idempotent-payments:problem:payment-conflict"
    # The key is free (released, keeping its reference for the processor), not held until its lease ends
    record = key_record(dynamodb.client, settings.idempotency_table, merchant, key)
    assert record is not None and record.status is Status.RELEASED and record.owner is None
    assert record.result is None and record.lease_expires_at_ms is None
    # Nothing half-written: no payment for the merchant, and the squatter is untouched
    assert payments_of(dynamodb.client, settings.payments_table, merchant) == []
    [squatter_id] = squatting.squatters
    item = dynamodb.client.get_item(TableName=settings.payments_table, Key={"payment_id": {"S": squatter_id}})["Item"]
    assert item["merchant_id"]["S"] == "someone-else" and item["amount"]["N"] == "1"


def _staged(event: dict[str, Any], prefix: str) -> dict[str, Any]:
    staged = copy.deepcopy(event)
    staged["requestContext"]["path"] = prefix + event["path"]
    return staged


def test_location_resolves_under_the_stage_the_request_came_through(invoke: Any) -> None:
    merchant, key = _merchant(), unique("k")
    event = _staged(payment_event(key, visa(), merchant=merchant), "/v1")
    first = invoke(event)
    payment_id = json.loads(first["body"])["id"]
    assert first["multiValueHeaders"]["Location"] == [f"/v1/payments/{payment_id}"]
    replay = invoke(event)
    assert replay["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    assert replay["multiValueHeaders"]["Location"] == [f"/v1/payments/{payment_id}"]
    # Behind a custom domain mapped at a base path, the link keeps that base path
    behind_domain = invoke(_staged(payment_event(key, visa(), merchant=merchant), "/payments-api"))
    assert behind_domain["multiValueHeaders"]["Location"] == [f"/payments-api/payments/{payment_id}"]
    # Called at the root (the local server, a domain mapped at /), the link is the bare path
    assert invoke(payment_event(key, visa(), merchant=merchant))["multiValueHeaders"]["Location"] == [
        f"/payments/{payment_id}"
    ]


def _log_lines(calls: Any) -> list[dict[str, Any]]:
    from payments_service.handlers.observability import logger

    out = io.StringIO()
    handler = logger.registered_handler  # bound to the stdout of its creation: point it here for the call
    previous = handler.setStream(out)  # type: ignore[attr-defined]
    try:
        with contextlib.redirect_stdout(out):  # EMF metrics are printed
            calls()
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


def test_every_request_logs_one_line_and_one_metric_gets_and_4xx_included(deps: Any) -> None:
    from payments_service import bootstrap
    from payments_service.handlers import api

    merchant = _merchant()
    events = [
        (payment_event(unique("k"), visa(), merchant=merchant), 201, "created"),
        (payment_event(None, visa(), merchant=merchant), 400, "invalid"),
        (payment_event(unique("k"), raw_body="{", merchant=merchant), 400, "invalid"),
        (payment_event(unique("k"), visa(), merchant=None), 401, "unauthenticated"),
        (get_event("pay_" + "0" * 24, merchant=merchant), 404, "not_found"),
        (payment_event(unique("k"), visa(), headers={"Content-Type": "text/plain"}, merchant=merchant), 415, "invalid"),
    ]
    bootstrap.use(deps)
    try:
        for event, status, outcome in events:
            lines = _log_lines(lambda e=event: api.lambda_handler(e, FakeContext()))
            requests = [line for line in lines if line.get("message") == "request"]
            assert len(requests) == 1, lines
            assert (requests[0]["status"], requests[0]["outcome"]) == (status, outcome)
            metric_names = [
                m["Name"] for line in lines if "_aws" in line for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            ]
            expected = "Payment" + "".join(part.capitalize() for part in outcome.split("_"))
            assert metric_names == [expected], lines
            assert "card" not in json.dumps(requests[0]).lower()  # never the body or the source token
    finally:
        bootstrap.use(None)


def _imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _imports(package: Path) -> set[str]:
    return {name for path in package.rglob("*.py") for name in _imports_of(path)}


def test_the_engine_imports_nothing_of_payments_http_or_dynamodb() -> None:
    imports = _imports(SRC / "idempotency")
    forbidden = ("..handlers", "..logic", "..domain", "..models", "..dal", "..processors", "boto", "aws_lambda")
    assert not [i for i in imports if i.startswith(forbidden)], imports
    assert {i for i in imports if i.startswith("..")} == set()  # only its own modules and the standard library


def test_one_handler_module_owns_the_idempotency_key() -> None:
    owners = {
        path.name
        for path in (SRC / "handlers").glob("*.py")
        if any(i.endswith("idempotency.keys") for i in _imports_of(path))
    }
    assert owners == {"idempotency_key.py"}  # parsing, "sent twice" and the log hash: one place


def test_use_cases_know_neither_http_nor_boto3() -> None:
    imports = _imports(SRC / "logic") | _imports(SRC / "domain")
    forbidden = ("..handlers", "..dal", "boto", "aws_lambda_powertools.event_handler", "botocore")
    assert not [i for i in imports if i.startswith(forbidden)], imports


def test_the_domain_depends_on_nothing_of_ours_but_itself() -> None:
    imports = _imports(SRC / "domain")
    assert {i for i in imports if i.startswith("..")} == set(), imports  # not models/, not idempotency/
    assert not [i for i in imports if i.startswith(("boto", "botocore", "aws_lambda"))], imports


class _AnyError:
    """Stands for any mapped error: every attribute a problem reads is there."""

    def __getattr__(self, name: str) -> Any:
        return 1 if name in ("retry_after_seconds", "status") else "x"


def test_every_outcome_the_problem_map_can_give_is_a_known_outcome() -> None:
    from payments_service.handlers import problems
    from payments_service.handlers.observability import OUTCOMES

    given = {problems._INTERNAL.outcome} | {build(_AnyError()).outcome for build in problems._problems().values()}
    assert given <= set(OUTCOMES), given - set(OUTCOMES)
