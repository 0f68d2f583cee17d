"""Every DynamoDB call a function makes, recorded while its routes and jobs run, is granted by that function's
own policy in template.yaml. moto checks no IAM: a call the policy misses works in every other test and is an
AccessDenied on AWS, found by the first merchant who takes that path.

IAM grants a table and each of its indexes separately (a grant on the table does not cover a Query on an
index, nor the reverse), and authorizes a transaction by its items: a Put needs dynamodb:PutItem on its table,
a ConditionCheck dynamodb:ConditionCheckItem. Each item counts as its own call here.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local import template
from tests.queue.conftest import message
from tests.support import (
    COMPLETIONS,
    FakeContext,
    get_event,
    get_refund_event,
    intent_event,
    list_payments_event,
    list_refunds_event,
    payment_event,
    refund_event,
    sign,
    unique,
    visa,
    webhook_event,
)

from .conftest import World

Call = tuple[str, str, str | None]  # (IAM action, table logical id, index or None)
WEBHOOK_SECRET = "whsec_test_grants"
_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _logical(table_name: str) -> str:
    return table_name.rsplit("-", 1)[-1]  # local.tables names each table "<prefix>-<logical id>"


def _needs(operation: str, params: dict[str, Any]) -> set[Call]:
    if operation == "TransactWriteItems":
        return {
            (_ITEM_ACTIONS[kind], _logical(body["TableName"]), None)
            for item in params["TransactItems"]
            for kind, body in item.items()
        }
    assert "TableName" in params, f"{operation}: a call this test cannot attribute to a table"
    return {(operation, _logical(params["TableName"]), params.get("IndexName"))}


@contextlib.contextmanager
def _recorded() -> Iterator[set[Call]]:
    """The calls of the process-wide DynamoDB client (the one every function builds on) while the block runs."""
    from payments_service.dal.clients import dynamodb_client

    calls: set[Call] = set()

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.update(_needs(model.name, params))

    events = dynamodb_client().meta.events
    events.register("provide-client-params.dynamodb", record, unique_id="iam-grants")
    try:
        yield calls
    finally:
        events.unregister("provide-client-params.dynamodb", unique_id="iam-grants")


def _resource(value: Any) -> tuple[str, str | None]:
    """(table, index) of a grant's resource as the single-Region layout (the default) takes it."""
    if isinstance(value, dict) and value.get("Fn::If", [None])[0] == "SingleRegionTables":
        value = value["Fn::If"][1]
    if "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0], None
    table, _, index = value["Fn::Sub"].removeprefix("${").partition(".Arn}/index/")
    assert index, value
    return table, index


def _granted(function: str) -> set[Call]:
    granted: set[Call] = set()
    for statement in template.policy_statements(function):
        assert statement["Effect"] == "Allow", statement
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in (a.removeprefix("dynamodb:") for a in actions if a.startswith("dynamodb:")):
            granted.add((action, *_resource(statement["Resource"])))
    return granted


def _api(world: World) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def call(event: dict[str, Any]) -> dict[str, Any]:
        answer = world.call(event)
        return {"status": answer.status, "body": json.loads(answer.body) if answer.body else None}

    return call


def _invoke(handler: Callable[..., Any], event: dict[str, Any]) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        return handler(event, FakeContext(20_000))


@pytest.mark.parametrize("completion", COMPLETIONS)
def test_each_function_is_granted_every_dynamodb_call_it_makes(
    make_world: Callable[..., World], completion: str
) -> None:
    from payments_service import bootstrap
    from payments_service.handlers import priming, reconciler, sweeper, webhooks
    from payments_service.handlers import queue as queue_handler
    from payments_service.models.settings import Settings

    # The deployed processor (the sandbox on its own table), as template.yaml's default configures it.
    world = make_world(processor=None, idempotency_completion=completion)
    api, who = _api(world), f"arn:aws:iam::111111111111:user/{unique('iam')}"
    calls: dict[str, set[Call]] = {}

    with _recorded() as calls["PaymentsFunction"]:
        bootstrap.use(world.deps)
        assert priming.prime()["dynamodb"]
        key = unique("k")
        paid = api(payment_event(key, visa(1500), merchant=who))
        assert paid["status"] == 201, paid
        assert api(payment_event(key, visa(1500), merchant=who))["status"] == 201  # a replay
        assert api(payment_event(key, visa(1600), merchant=who))["status"] == 422
        payment_id = paid["body"]["id"]
        assert api(get_event(payment_id, who))["status"] == 200
        assert api(list_payments_event(who))["status"] == 200
        refunded = api(refund_event(payment_id, unique("r"), {"amount": 500}, merchant=who))
        assert refunded["status"] == 201, refunded
        assert api(get_refund_event(payment_id, refunded["body"]["id"], who))["status"] == 200
        assert api(list_refunds_event(payment_id, who))["status"] == 200
        pending = api(payment_event(unique("k"), visa(900, source="tok_refundPending"), merchant=who))
        still_pending = api(refund_event(pending["body"]["id"], unique("r"), {"amount": 900}, merchant=who))
        assert still_pending["body"]["status"] == "pending", still_pending
        declines = api(payment_event(unique("k"), visa(800, source="tok_refundDeclined"), merchant=who))
        refused = api(refund_event(declines["body"]["id"], unique("r"), {"amount": 800}, merchant=who))
        assert refused["status"] == 409, refused  # refused by the processor: the reservation is given back
        assert api(payment_event(unique("k"), visa(700, source="tok_chargeDeclined"), merchant=who))["status"] == 402
        assert api(payment_event(unique("k"), visa(600, source="tok_lostResponse"), merchant=who))["status"] == 503
        three_ds_key = unique("k")
        awaiting = api(payment_event(three_ds_key, visa(1200, source="tok_threeDSecureRequired"), merchant=who))
        assert awaiting["status"] == 202, awaiting

    with _recorded() as calls["StripeWebhookFunction"]:
        secrets = {**world.settings.model_dump(by_alias=True), "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
        bootstrap.use(bootstrap.build(Settings.model_validate(secrets), clock=world.clock))
        intent = awaiting["body"]["processor_payment_id"]
        body = intent_event(
            unique("evt"), "payment_intent.succeeded", intent, world.record(who, three_ds_key).reference, "succeeded"
        )
        answered = _invoke(webhooks.lambda_handler, webhook_event(body, sign(body, WEBHOOK_SECRET)))
        assert json.loads(answered["body"])["outcome"] == "applied", answered

    with _recorded() as calls["ReconcilerFunction"]:
        bootstrap.use(world.deps)
        world.clock.advance(3_600_000)  # past every follow-up's next check
        report = _invoke(reconciler.lambda_handler, {})
        assert report["results"]["charged"] == 1 and report["followed_up"] == {"refunds_unchanged": 1}, report

    with _recorded() as calls["KeySweeperFunction"]:
        world.clock.advance(world.settings.retention_seconds * 1000 + 60_000)  # every key expired
        assert _invoke(sweeper.handler, {})["swept"] > 0

    with _recorded() as calls["PaymentQueueFunction"]:
        bootstrap.use(world.deps)
        queued = message(json.dumps(visa(1100)), unique("k"), who)
        answered = _invoke(queue_handler.lambda_handler, {"Records": [queued]})
        assert answered["batchItemFailures"] == [], answered

    assert set(calls) == set(template.resources("AWS::Serverless::Function"))
    # The paths above reach the indexes each function reads.
    assert ("Query", "PaymentsTable", "by_merchant_created") in calls["PaymentsFunction"]
    assert {("Query", "IdempotencyTable", "UnresolvedIndex"), ("Query", "RefundsTable", "pending_refunds")} <= calls[
        "ReconcilerFunction"
    ]
    for function, made in calls.items():
        missing = made - _granted(function)
        assert not missing, f"{function} calls what its policy does not grant: {sorted(map(str, missing))}"
