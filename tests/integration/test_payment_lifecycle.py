"""A payment's and a refund's life after they were recorded: 3-D Secure (202 requires_action), processor
events applied twice and out of order, a refund that fails later given back exactly once, and the
reconciler's follow-up (a payment abandoned by its customer is canceled at the processor)."""

from __future__ import annotations

import json
from typing import Any

from payments_service.domain.payments import payment_id_for
from payments_service.domain.processor_events import ChargeEvent, OtherEvent, RefundEvent
from payments_service.domain.refunds import refund_id_for
from payments_service.processors.sandbox import SandboxProcessor
from tests.support import get_event, get_refund_event, payment_event, refund_event, stored_payment, unique, visa


def _merchant() -> str:
    return f"arn:aws:iam::111111111111:user/{unique('m')}"


def _awaiting(invoke: Any, merchant: str, key: str | None = None) -> dict[str, Any]:
    response = invoke(
        payment_event(key or unique("k"), visa(1500, source="tok_threeDSecureRequired"), merchant=merchant)
    )
    assert response["statusCode"] == 202, response
    return response


def test_a_card_needing_3ds_is_202_requires_action_with_its_next_action_and_replays_the_same_bytes(
    invoke: Any,
) -> None:
    who, key = _merchant(), unique("k")
    first = _awaiting(invoke, who, key)
    body = json.loads(first["body"])
    assert body["status"] == "requires_action"
    assert body["next_action"] == {"type": "use_stripe_sdk"} and body["client_secret"].startswith("ch_3ds_")
    assert first["multiValueHeaders"]["Location"] == [f"/payments/{body['id']}"]
    again = invoke(payment_event(key, visa(1500, source="tok_threeDSecureRequired"), merchant=who))
    assert again["statusCode"] == 202 and again["body"] == first["body"]
    assert again["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    shown = json.loads(invoke(get_event(body["id"], who))["body"])
    assert shown["status"] == "requires_action" and "client_secret" in shown


def test_the_queue_path_declines_3ds_instead_of_leaving_it_open(deps: Any) -> None:
    from payments_service.models.payments import CreatePaymentRequest

    request = CreatePaymentRequest(amount=900, currency="EUR", source="tok_threeDSecureRequired")
    result = deps.create_payment(_merchant(), unique("k"), request, off_session=True)
    assert result.recorded.outcome == "declined" and result.recorded.decline_code == "authentication_required"


def test_events_move_a_payment_forward_only_whatever_their_order_and_however_often(
    invoke: Any, deps: Any, dynamodb: Any, settings: Any, processor: SandboxProcessor
) -> None:
    who = _merchant()
    payment_id = json.loads(_awaiting(invoke, who)["body"])["id"]
    (reference,) = [r for r, c in processor.charges.items() if payment_id_for(r) == payment_id]
    charge_id = processor.charges[reference].id

    def event(status: str, n: int) -> ChargeEvent:
        return ChargeEvent(f"evt_{n}", charge_id, reference, status, "authentication_failed")  # type: ignore[arg-type]

    # The customer failed once, then succeeded; the events arrive succeeded first, each twice.
    assert deps.apply_processor_event(event("succeeded", 2)) == "applied"
    assert deps.apply_processor_event(event("succeeded", 2)) == "unchanged"
    assert deps.apply_processor_event(event("failed", 1)) == "unchanged"
    assert deps.apply_processor_event(event("canceled", 3)) == "unchanged"  # succeeded is final
    shown = json.loads(invoke(get_event(payment_id, who))["body"])
    assert shown["status"] == "succeeded"
    assert "client_secret" not in shown and "next_action" not in shown  # gone once it no longer awaits anyone
    # Not ours (no reference of ours), or of a type we do not act on: acknowledged, nothing moves
    assert deps.apply_processor_event(ChargeEvent("evt_4", "pi_other", None, "failed")) == "ignored"
    assert deps.apply_processor_event(OtherEvent("evt_5", "customer.created")) == "ignored"


def test_a_refund_that_fails_later_is_given_back_exactly_once_and_can_be_refunded_again(
    invoke: Any, deps: Any, dynamodb: Any, settings: Any
) -> None:
    who = _merchant()
    created = invoke(payment_event(unique("k"), visa(1000), merchant=who))
    payment_id = json.loads(created["body"])["id"]
    made = invoke(refund_event(payment_id, unique("r"), {"amount": 600}, merchant=who))
    assert made["statusCode"] == 201, made
    refund = json.loads(made["body"])
    stored = deps.get_refund(who, payment_id, refund["id"])
    assert stored is not None and stored.id == refund_id_for(stored.reference)

    def failed(n: int) -> RefundEvent:
        return RefundEvent(f"evt_{n}", stored.processor_refund_id, stored.reference, payment_id, "failed", "lost_card")

    # When Stripe says it failed, three times and then an old "succeeded" arrives late
    assert deps.apply_processor_event(failed(1)) == "applied"
    assert deps.apply_processor_event(failed(1)) == "unchanged"
    assert deps.apply_processor_event(failed(2)) == "unchanged"
    late = RefundEvent("evt_0", stored.processor_refund_id, stored.reference, payment_id, "succeeded")
    assert deps.apply_processor_event(late) == "unchanged"
    # Then the amount came back once: the payment shows nothing refunded, and 1000 is refundable again
    _, balance = stored_payment(dynamodb, settings, payment_id)
    assert (balance.amount_refunded, balance.amount_available, balance.amount_pending) == (0, 1000, 0)
    shown = json.loads(invoke(get_refund_event(payment_id, refund["id"], merchant=who))["body"])
    assert shown["status"] == "failed"
    assert json.loads(invoke(get_event(payment_id, who))["body"])["status"] == "succeeded"
    again = invoke(refund_event(payment_id, unique("r"), {"amount": 1000}, merchant=who))
    assert again["statusCode"] == 201, again


def test_a_refund_event_naming_another_refund_id_changes_nothing(invoke: Any, deps: Any) -> None:
    who = _merchant()
    payment_id = json.loads(invoke(payment_event(unique("k"), visa(1000), merchant=who))["body"])["id"]
    refund = json.loads(invoke(refund_event(payment_id, unique("r"), {"amount": 100}, merchant=who))["body"])
    stored = deps.get_refund(who, payment_id, refund["id"])
    forged = RefundEvent("evt_x", "pyr_forged", stored.reference, payment_id, "failed")
    assert deps.apply_processor_event(forged) == "ignored"
    assert deps.get_refund(who, payment_id, refund["id"]).status == "succeeded"


def test_the_follow_up_cancels_a_payment_abandoned_by_its_customer(
    invoke: Any, deps: Any, clock: Any, dynamodb: Any, settings: Any, processor: SandboxProcessor
) -> None:
    who = _merchant()
    payment_id = json.loads(_awaiting(invoke, who)["body"])["id"]
    # Before its first check is due, nothing is asked
    assert deps.follow_up()["payments_canceled"] == 0
    # After 15 minutes it is asked about and still awaits its customer: looked at again later
    clock.advance(16 * 60 * 1000)
    first = deps.follow_up()
    assert first["payments_unchanged"] >= 1 and first["payments_canceled"] == 0
    assert json.loads(invoke(get_event(payment_id, who))["body"])["status"] == "requires_action"
    # After the abandon age (24 h), the charge is canceled at the processor and the payment recorded canceled
    clock.advance(settings.requires_action_timeout_seconds * 1000)
    assert deps.follow_up()["payments_canceled"] >= 1
    assert stored_payment(dynamodb, settings, payment_id)[1].processor_payment_id in processor.canceled
    assert json.loads(invoke(get_event(payment_id, who))["body"])["status"] == "canceled"
