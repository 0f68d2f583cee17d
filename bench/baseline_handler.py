"""The "minimal" baseline: the same payments API on Powertools' idempotency utility, with nothing else around it.

Powertools claims the key with a conditional PutItem, the handler writes the payment with its own
PutItem, then Powertools records the response with an UpdateItem: 3 round trips, and not atomic
(a crash between the last two leaves a payment whose response was never recorded; the retry runs
the handler again). Same request model, SandboxProcessor, payment item (to_item) and 201 response as
ours, one log line and one metric per POST, key scoped by caller.

It routes by hand and validates the body with the model directly: no routing framework, no validation
middleware, no tracer. That makes it the lower bound of a Powertools-based handler rather than what a
user would typically build; bench/baseline_app.py is that, and the targets are judged against it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from pydantic import ValidationError

from payments_service.dal.payments_table import from_item, to_item
from payments_service.domain.payments import payment_id_for, rfc3339
from payments_service.domain.processor import (
    Declined,
    InvalidPaymentSource,
    PaymentProcessor,
    ProcessorUnavailable,
)
from payments_service.domain.stored_payments import Payment, StoredPayment
from payments_service.models.payments import CreatePaymentRequest
from payments_service.processors.sandbox import SandboxProcessor

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

KEY_HEADER = "Idempotency-Key"
# Scoped by caller like ours: two merchants may pick the same key. Hashed by Powertools.
KEY_PATH = '[requestContext.identity.userArn, headers."Idempotency-Key"]'
# The parsed body, hashed with sorted keys: a key reused with another body is refused (422).
PAYLOAD_PATH = "powertools_json(body)"
_OUTCOMES = {201: "created", 402: "declined"}


def _problem(
    status: int, slug: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    body = {"type": f"urn:idempotent-payments:problem:{slug}", "status": status, "detail": detail, **extra}
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/problem+json", **(headers or {})},
        "body": json.dumps(body, separators=(",", ":")),
    }


def _merchant(event: dict[str, Any]) -> str | None:
    return ((event.get("requestContext") or {}).get("identity") or {}).get("userArn")


def build(
    *,
    idempotency_table: str,
    payments_table: str,
    client: Any = None,
    processor: PaymentProcessor | None = None,
    use_local_cache: bool = False,
) -> Handler:
    client = client or boto3.client("dynamodb")
    processor = processor or SandboxProcessor(slow_seconds=float(os.environ.get("SANDBOX_SLOW_SECONDS", "3")))
    persistence = DynamoDBPersistenceLayer(table_name=idempotency_table, boto3_client=client)
    config = IdempotencyConfig(
        event_key_jmespath=KEY_PATH,
        payload_validation_jmespath=PAYLOAD_PATH,
        expires_after_seconds=86_400,
        use_local_cache=use_local_cache,
    )
    logger = Logger(service="payments-baseline")
    metrics = Metrics(namespace="IdempotentPaymentsBaseline", service="payments-baseline")

    @idempotent(persistence_store=persistence, config=config)
    def create(event: dict[str, Any], context: Any, request: CreatePaymentRequest) -> dict[str, Any]:
        merchant = _merchant(event) or ""
        key = event["headers"][KEY_HEADER]
        # Stable per (merchant, key), so a retry that runs again reuses the processor's own dedupe.
        reference = hashlib.sha256(f"{merchant}|{key}".encode()).hexdigest()[:40]
        try:
            charge = processor.charge(
                reference=reference, amount=request.amount, currency=request.currency, source=request.source
            )
        except Declined as decline:  # a final answer: recorded and replayed like a success
            return _problem(402, "card-declined", "The card was declined", decline_code=decline.decline_code)
        payment = StoredPayment(
            id=payment_id_for(reference),
            merchant_id=merchant,
            processor_payment_id=charge.id,
            amount=request.amount,
            currency=request.currency,
            description=request.description,
            metadata=request.metadata,
            created_at=rfc3339(time.time_ns() // 1_000_000),
        )
        client.put_item(TableName=payments_table, Item=to_item(payment))
        public = Payment.model_validate(payment.model_dump(include=set(Payment.model_fields)))
        headers = {"Content-Type": "application/json", "Location": f"/payments/{payment.id}"}
        return {"statusCode": 201, "headers": headers, "body": public.model_dump_json()}

    def post(event: dict[str, Any], context: Any) -> tuple[dict[str, Any], str]:
        if not _merchant(event):
            return _problem(401, "unauthenticated", "The request carries no authenticated principal"), "rejected"
        if not (event.get("headers") or {}).get(KEY_HEADER):
            return _problem(400, "missing-idempotency-key", "The Idempotency-Key header is required"), "rejected"
        try:
            request = CreatePaymentRequest.model_validate_json(event.get("body") or "")
        except ValidationError:
            return _problem(400, "invalid-request", "The request does not match the schema"), "rejected"
        try:
            response = create(event, context, request=request)
        except IdempotencyValidationError:
            return _problem(422, "idempotency-key-reused", "Key already used with another body"), "mismatch"
        except IdempotencyAlreadyInProgressError:
            return _problem(409, "idempotency-key-in-use", "Retry later", {"Retry-After": "1"}), "conflict"
        except (ProcessorUnavailable, IdempotencyPersistenceLayerError):  # Powertools deleted the record
            return _problem(503, "service-unavailable", "Retry later", {"Retry-After": "1"}), "released"
        except InvalidPaymentSource:
            return _problem(400, "invalid-payment-source", "Unknown payment source"), "rejected"
        return response, _OUTCOMES.get(response["statusCode"], "error")

    def get(event: dict[str, Any]) -> dict[str, Any]:
        payment_id = (event.get("pathParameters") or {}).get("payment_id", "")
        item = None
        if Payment.ID_PATTERN.match(payment_id):
            key = {"payment_id": {"S": payment_id}}
            item = client.get_item(TableName=payments_table, Key=key, ConsistentRead=True).get("Item")
        found = from_item(item) if item else None
        if found is None or found.merchant_id != _merchant(event):
            return _problem(404, "not-found", "No such resource")
        public = Payment.model_validate(found.model_dump(include=set(Payment.model_fields)))
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": public.model_dump_json()}

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get("httpMethod") == "GET":
            return get(event)
        started = time.perf_counter()
        response, outcome = post(event, context)
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        logger.info(
            "payment request", extra={"merchant": _merchant(event), "outcome": outcome, "latency_ms": latency_ms}
        )
        metrics.add_metric(name=f"Payment{outcome.capitalize()}", unit=MetricUnit.Count, value=1)
        return response

    return handler


# What Lambda imports: built once per execution environment, like a user's module-level setup.
lambda_handler = build(
    idempotency_table=os.environ["BASELINE_IDEMPOTENCY_TABLE_NAME"],
    payments_table=os.environ["PAYMENTS_TABLE_NAME"],
)
