"""The "Powertools app" baseline: the same payments API built the way the Powertools documentation shows it.

- Routing and request validation by Powertools: `APIGatewayRestResolver(enable_validation=True)`, the body as
  `Annotated[CreatePaymentRequest, Body()]`, the key as a required `Header`; errors rendered by exception
  handlers as the same problem+json responses as ours.
- Logger (`inject_lambda_context`), Metrics (`log_metrics`) and Tracer (`capture_lambda_handler`; the template
  sets POWERTOOLS_TRACE_DISABLED=true, so nothing is sent). `@tracer.capture_method` on the routes, which the
  docs' examples also show, is left out: it would only add per-request cost to this baseline.
- Idempotency by `@idempotent_function` with `DynamoDBPersistenceLayer` around the route's work, keyed on the
  caller and the Idempotency-Key header, the body checked against the stored payload hash (422 on reuse with
  another body). A decline is returned, so Powertools records and replays it (402); exceptions delete the record.
- The payment is written with one PutItem: a first request is 3 round trips (Powertools' claim, the payment,
  Powertools' completion) and not atomic, as with the minimal baseline.

Same tables, sandbox processor, payment item (to_item) and responses as ours. `build` exists only so that the
bench can inject its counted client and gated processor, and build a second instance with Powertools' local
cache on; `lambda_handler` at the bottom is what Lambda would import.
"""

import hashlib
import os
import time
from collections.abc import Callable
from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, UnauthorizedError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from payments_service.dal.payments_table import from_item, to_item
from payments_service.domain.payments import payment_id_for, rfc3339
from payments_service.domain.processor import (
    Declined,
    InvalidPaymentSource,
    PaymentProcessor,
    ProcessorUnavailable,
)
from payments_service.domain.stored_payments import Payment, StoredPayment
from payments_service.handlers.problems import PROBLEM_JSON, problem_body, retry_after
from payments_service.models.payments import CreatePaymentRequest
from payments_service.processors.sandbox import SandboxProcessor

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def problem(slug: str, status: int, detail: str, headers: dict[str, str] | None = None, **ext: Any) -> Response[str]:
    return Response(status, PROBLEM_JSON, problem_body(slug, status, detail, **ext), headers or {})


class PaymentIntent(BaseModel):
    """What @idempotent_function hashes: the key from the caller and header, the payload from the body."""

    merchant: str
    idempotency_key: str
    payment: CreatePaymentRequest


class ChargeOutcome(BaseModel):
    """What Powertools records and replays: the payment, or the decline (a final answer, replayed as 402)."""

    payment: Payment | None = None
    decline_code: str | None = None


class PaymentDeclined(Exception):
    def __init__(self, decline_code: str) -> None:
        super().__init__(decline_code)
        self.decline_code = decline_code


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
        event_key_jmespath="[merchant, idempotency_key]",  # scoped by caller, like ours
        payload_validation_jmespath="payment",
        expires_after_seconds=86_400,
        use_local_cache=use_local_cache,
    )
    app = APIGatewayRestResolver(enable_validation=True)
    logger = Logger(service="payments-app")
    metrics = Metrics(namespace="IdempotentPaymentsApp", service="payments-app")
    tracer = Tracer(service="payments-app")

    @idempotent_function(
        data_keyword_argument="intent",
        persistence_store=persistence,
        config=config,
        output_serializer=PydanticSerializer(ChargeOutcome),
    )
    def charge(intent: PaymentIntent) -> ChargeOutcome:
        request = intent.payment
        # Stable per (merchant, key), so a retry that runs again reuses the processor's own dedupe.
        reference = hashlib.sha256(f"{intent.merchant}|{intent.idempotency_key}".encode()).hexdigest()[:40]
        try:
            charged = processor.charge(
                reference=reference, amount=request.amount, currency=request.currency, source=request.source
            )
        except Declined as decline:
            return ChargeOutcome(decline_code=decline.decline_code)
        payment = StoredPayment(
            id=payment_id_for(reference),
            merchant_id=intent.merchant,
            processor_payment_id=charged.id,
            amount=request.amount,
            currency=request.currency,
            description=request.description,
            metadata=request.metadata,
            created_at=rfc3339(time.time_ns() // 1_000_000),
        )
        client.put_item(TableName=payments_table, Item=to_item(payment))
        return ChargeOutcome(payment=Payment.model_validate(payment.model_dump(include=set(Payment.model_fields))))

    def merchant() -> str:
        user_arn = app.current_event.request_context.identity.user_arn
        if not user_arn:
            raise UnauthorizedError("The request carries no authenticated principal")
        return user_arn

    def outcome(name: str) -> None:
        logger.info("payment request", extra={"outcome": name})
        metrics.add_metric(name=f"Payment{name.capitalize()}", unit=MetricUnit.Count, value=1)

    @app.post("/payments")
    def create_payment(
        payment: Annotated[CreatePaymentRequest, Body()],
        idempotency_key: Annotated[str, Header(min_length=1, max_length=255)],
    ) -> Response[Payment]:
        intent = PaymentIntent(merchant=merchant(), idempotency_key=idempotency_key, payment=payment)
        result = charge(intent=intent)
        if result.payment is None:
            raise PaymentDeclined(result.decline_code or "card_declined")
        outcome("created")
        location = {"Location": f"/payments/{result.payment.id}"}
        return Response(status_code=201, content_type="application/json", body=result.payment, headers=location)

    @app.get("/payments/<payment_id>")
    def get_payment(payment_id: str) -> Payment:
        item = None
        if Payment.ID_PATTERN.match(payment_id):
            key = {"payment_id": {"S": payment_id}}
            item = client.get_item(TableName=payments_table, Key=key, ConsistentRead=True).get("Item")
        found = from_item(item) if item else None
        if found is None or found.merchant_id != merchant():
            raise NotFoundError(f"No payment {payment_id}")
        return Payment.model_validate(found.model_dump(include=set(Payment.model_fields)))

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[str]:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in error.errors()]
        return problem("invalid-request", 400, "The request does not match the schema", errors=errors)

    @app.exception_handler(UnauthorizedError)
    def unauthenticated(error: UnauthorizedError) -> Response[str]:
        return problem("unauthenticated", 401, str(error))

    @app.exception_handler(NotFoundError)
    def not_found(error: NotFoundError) -> Response[str]:
        return problem("not-found", 404, "No such resource")

    @app.exception_handler(PaymentDeclined)
    def declined(error: PaymentDeclined) -> Response[str]:
        outcome("declined")
        return problem("card-declined", 402, "The card was declined", decline_code=error.decline_code)

    @app.exception_handler(IdempotencyAlreadyInProgressError)
    def in_progress(error: IdempotencyAlreadyInProgressError) -> Response[str]:
        outcome("conflict")
        detail = "The first request with this key is still being processed; retry later"
        return problem("idempotency-key-in-use", 409, detail, retry_after(1))

    @app.exception_handler(IdempotencyValidationError)
    def reused(error: IdempotencyValidationError) -> Response[str]:
        outcome("mismatch")
        detail = "This Idempotency-Key was already used with a different request body"
        return problem("idempotency-key-reused", 422, detail)

    @app.exception_handler(InvalidPaymentSource)
    def invalid_source(error: InvalidPaymentSource) -> Response[str]:
        outcome("rejected")  # Powertools deleted the record: the key may be reused
        return problem("invalid-payment-source", 400, "The payment source is not recognised by the processor")

    @app.exception_handler([ProcessorUnavailable, IdempotencyPersistenceLayerError])
    def unavailable(error: Exception) -> Response[str]:
        outcome("released")  # Powertools deleted the record: a retry runs again
        detail = "A dependency failed transiently; retry with the same Idempotency-Key"
        return problem("service-unavailable", 503, detail, retry_after(1))

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        config.register_lambda_context(context)  # in-progress records expire with the invocation
        return app.resolve(event, context)

    return lambda_handler


# What Lambda imports: built once per execution environment, like a user's module-level setup.
lambda_handler = build(
    idempotency_table=os.environ["BASELINE_IDEMPOTENCY_TABLE_NAME"],
    payments_table=os.environ["PAYMENTS_TABLE_NAME"],
)
