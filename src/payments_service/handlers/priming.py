"""SnapStart priming (issue 23): before the snapshot, run the first request's lazy work without touching
data, so that no restored copy pays for it. AWS documents this as priming in a before-snapshot hook.

Exercised: a request validated from JSON (pydantic's validators, the ISO 4217 table), a payment answer and
a problem serialised (pydantic's serializers, the JSON encoder), the DynamoDB client's first call
(dal/priming.py). Nothing here is recorded: no key, no payment, no metric.
"""

from __future__ import annotations

from .. import bootstrap
from ..dal.priming import prime_dynamodb
from ..domain.stored_payments import Payment
from ..models.payments import CreatePaymentRequest
from .observability import logger

_REQUEST = b'{"amount": 1000, "currency": "EUR", "source": "tok_visa", "metadata": {"order": "priming"}}'


def prime() -> dict[str, bool]:
    """Run once, before the snapshot; what was primed (a failure is logged, never raised)."""
    request = CreatePaymentRequest.model_validate_json(_REQUEST)
    answer = Payment(
        id="pay_" + "0" * 24,
        amount=request.amount,
        currency=request.currency,
        metadata=request.metadata,
        created_at="2026-01-01T00:00:00.000Z",
        processor_payment_id="priming",
    )
    answer.model_dump_json(exclude_none=True)
    container = bootstrap.container()
    settings = container.settings
    transactions = settings.idempotency_completion == "transaction"
    client = container.client()
    primed = {"models": True, "dynamodb": prime_dynamodb(client, settings.idempotency_table, transactions=transactions)}
    if not primed["dynamodb"]:
        logger.warning("priming: the DynamoDB call failed; restored copies pay for it on their first request")
    return primed
