"""Finding 18.7: Stripe omits fields that do not apply, and the SDK raises AttributeError on a missing one.
The adapter reads each optional field safely, shown here on objects that lack them."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from payments_service.domain.processor import Declined, ProcessorRefund
from payments_service.processors.stripe import _charge_of, _refund_of, _state_of


def intent(**fields: Any) -> Any:
    return stripe.PaymentIntent.construct_from({"id": "pi_1", "object": "payment_intent", **fields}, "sk_test_x")


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        ({"code": "processing_error"}, "processing_error"),  # no decline_code
        ({"type": "card_error"}, "payment_failed"),  # neither
        (None, "payment_failed"),  # no last_payment_error at all
    ],
)
def test_a_failed_payment_intent_without_its_optional_fields_is_still_a_decline(
    failure: dict[str, str] | None, code: str
) -> None:
    fields: dict[str, Any] = {"status": "requires_payment_method"}
    if failure is not None:
        fields["last_payment_error"] = failure
    with pytest.raises(Declined) as declined:
        _charge_of(intent(**fields))
    assert declined.value.decline_code == code
    assert _state_of(intent(**fields)).status == "failed"


def test_a_payment_intent_awaiting_its_customer_without_next_action_or_secret_is_still_read() -> None:
    charge = _charge_of(intent(status="requires_action"))
    assert (charge.status, charge.client_secret, dict(charge.next_action or {})) == ("requires_action", None, {})


def test_a_refund_without_failure_reason_or_with_a_status_new_to_us() -> None:
    def refund(**fields: Any) -> Any:
        return stripe.Refund.construct_from({"id": "re_1", "object": "refund", **fields}, "sk_test_x")

    assert _refund_of(refund(status="failed")) == ProcessorRefund("re_1", "failed", None)
    assert _refund_of(refund(status="requires_action")) == ProcessorRefund("re_1", "pending", None)
    assert _refund_of(refund(status="canceled", failure_reason="unknown")).failure_reason == "unknown"
