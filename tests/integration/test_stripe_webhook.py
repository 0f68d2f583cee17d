"""POST /webhooks/stripe through its real Lambda handler and the real SDK's signature check."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import FakeContext, get_event, intent_event, payment_event, sign, unique, visa, webhook_event

SECRET, OLD_SECRET = "whsec_test_current", "whsec_test_previous"
PROBLEM = "urn:idempotent-payments:problem:"


@pytest.fixture
def webhook(settings: Any, processor: Any, clock: Any) -> Iterator[Callable[[bytes, str | None], dict[str, Any]]]:
    from payments_service import bootstrap
    from payments_service.handlers import webhooks
    from payments_service.models.settings import Settings

    with_secrets = Settings.model_validate(
        {**settings.model_dump(by_alias=True), "STRIPE_WEBHOOK_SECRET": f"{SECRET},{OLD_SECRET}"}
    )
    bootstrap.use(bootstrap.build(with_secrets, processor=processor, clock=clock))

    def call(payload: bytes, signature: str | None) -> dict[str, Any]:
        with contextlib.redirect_stdout(io.StringIO()):
            return webhooks.lambda_handler(webhook_event(payload, signature), FakeContext(10_000))

    yield call


def _awaiting_payment(invoke: Any, processor: Any) -> tuple[str, str, str, str]:
    who = f"arn:aws:iam::111111111111:user/{unique('m')}"
    created = invoke(payment_event(unique("k"), visa(1200, source="tok_threeDSecureRequired"), merchant=who))
    assert created["statusCode"] == 202, created
    payment_id = json.loads(created["body"])["id"]
    from payments_service.domain.payments import payment_id_for

    (reference,) = [r for r in processor.charges if payment_id_for(r) == payment_id]
    return who, payment_id, reference, processor.charges[reference].id


def _status(invoke: Any, payment_id: str, who: str) -> str:
    return str(json.loads(invoke(get_event(payment_id, who))["body"])["status"])


def test_a_signed_event_completes_3ds_and_its_second_delivery_changes_nothing(
    invoke: Any, webhook: Any, processor: Any
) -> None:
    who, payment_id, reference, intent = _awaiting_payment(invoke, processor)
    body = intent_event(unique("evt"), "payment_intent.succeeded", intent, reference, "succeeded")
    first = webhook(body, sign(body, SECRET))
    assert first["statusCode"] == 200 and json.loads(first["body"]) == {"received": True, "outcome": "applied"}
    assert _status(invoke, payment_id, who) == "succeeded"
    again = webhook(body, sign(body, SECRET))
    assert json.loads(again["body"])["outcome"] == "unchanged"
    # An older failure arriving afterwards cannot take it back
    late = intent_event(unique("evt"), "payment_intent.payment_failed", intent, reference, "requires_payment_method")
    assert json.loads(webhook(late, sign(late, SECRET))["body"])["outcome"] == "unchanged"
    assert _status(invoke, payment_id, who) == "succeeded"


def test_the_previous_secret_still_verifies_during_a_rotation(invoke: Any, webhook: Any, processor: Any) -> None:
    who, payment_id, reference, intent = _awaiting_payment(invoke, processor)
    body = intent_event(unique("evt"), "payment_intent.canceled", intent, reference, "canceled")
    assert webhook(body, sign(body, OLD_SECRET))["statusCode"] == 200
    assert _status(invoke, payment_id, who) == "canceled"


@pytest.mark.parametrize(
    "signature",
    [
        None,  # unsigned
        "t=1,v1=00",  # garbage
        "wrong secret",
        "too old",  # a replay older than the 300 s tolerance
        "other body",
    ],
)
def test_a_bad_signature_is_a_400_problem_and_changes_nothing(
    invoke: Any, webhook: Any, processor: Any, signature: str | None
) -> None:
    who, payment_id, reference, intent = _awaiting_payment(invoke, processor)
    body = intent_event(unique("evt"), "payment_intent.succeeded", intent, reference, "succeeded")
    header = {
        "wrong secret": sign(body, "whsec_not_ours"),
        "too old": sign(body, SECRET, at=int(time.time()) - 301),
        "other body": sign(body.replace(b"succeeded", b"canceled"), SECRET),
    }.get(signature or "", signature)
    response = webhook(body, header)
    assert response["statusCode"] == 400, response
    assert response["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
    assert json.loads(response["body"])["type"] == PROBLEM + "invalid-signature"
    assert SECRET not in response["body"]
    assert _status(invoke, payment_id, who) == "requires_action"


def test_a_signed_body_that_is_not_an_event_is_a_400_and_an_event_not_ours_a_200(webhook: Any) -> None:
    junk = b'{"hello": "world"}'
    refused = webhook(junk, sign(junk, SECRET))
    assert refused["statusCode"] == 400 and json.loads(refused["body"])["type"] == PROBLEM + "invalid-event"
    foreign = json.dumps(
        {
            "id": "evt_1",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_1", "object": "payment_intent", "status": "succeeded"}},
        }
    ).encode()
    assert json.loads(webhook(foreign, sign(foreign, SECRET))["body"])["outcome"] == "ignored"
