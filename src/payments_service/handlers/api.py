"""Lambda entry point of the HTTP API: Powertools resolver, one use-case call per route."""

from __future__ import annotations

import warnings
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import bootstrap
from ..idempotency.keys import record_id
from ..models.payments import CreatePaymentRequest
from . import observability
from .api_docs import CREATE_PAYMENT_DOC, GET_PAYMENT_DOC
from .idempotency_key import parse_key
from .links import base_path
from .observability import Observation, logger, metrics
from .payment_responses import payment_response
from .principal import merchant_id
from .problems import problem_for
from .transport import BodyRejected, parse_body, screen

# A request refused before anything is known still emits its metric; no warning for an empty flush.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# No validation middleware at run time: parse_body validates with the same strict models, cheaper.
app = APIGatewayRestResolver()


def _remaining_ms() -> int | None:
    context = app.lambda_context
    return context.get_remaining_time_in_millis() if context is not None else None


def _remaining_of(context: LambdaContext | None) -> int | None:
    return context.get_remaining_time_in_millis() if context is not None else None


@app.post("/payments", **CREATE_PAYMENT_DOC)
def post_payment() -> Response[str]:
    event = app.current_event.raw_event
    merchant = merchant_id(event, bootstrap.settings().merchant_scope)
    observability.current.fields["merchant"] = merchant
    key = parse_key(event)
    observability.current.fields["idempotency_key_hash"] = record_id(merchant, key)
    payment = parse_body(CreatePaymentRequest, app.current_event.body)
    result = bootstrap.container().create_payment(merchant, key, payment, _remaining_ms())
    observability.current.outcome = result.outcome
    return payment_response(result, base_path(event))


@app.get("/payments/<payment_id>", **GET_PAYMENT_DOC)
def get_payment(payment_id: str) -> Response[str]:
    # API Gateway hands pathParameters over URL-decoded; the resolver's capture comes from the raw path.
    payment_id = (app.current_event.path_parameters or {}).get("payment_id", payment_id)
    merchant = merchant_id(app.current_event.raw_event, bootstrap.settings().merchant_scope)
    observability.current.fields["merchant"] = merchant
    found = bootstrap.container().get_payment(merchant, payment_id)
    if found is None:
        raise NotFoundError(f"No payment {payment_id}")
    observability.current.outcome = "found"
    return Response(200, "application/json", found.public_json())


@app.exception_handler(Exception)
def _problem(error: Exception) -> Response[str]:
    problem = problem_for(error)
    observability.current.outcome = problem.outcome
    if problem.status >= 500:
        logger.exception("unhandled error")
    return problem.response()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    observability.current = observation = Observation(f"{event.get('httpMethod')} {event.get('resource')}")
    try:
        try:
            with bootstrap.budget(_remaining_of(context)):
                response = app.resolve(screen(event), context)
        except BodyRejected as rejected:
            problem = problem_for(rejected)
            observation.outcome = problem.outcome
            response = problem.proxy_response()
        observation.finish(int(response.get("statusCode", 500)))
        return response
    finally:
        bootstrap.resume_collection()


settings = bootstrap.settings()  # read at init: a missing table name fails the cold start loudly
metrics.namespace = settings.metrics_namespace
if settings.initialization_type in ("provisioned-concurrency", "snap-start"):
    # Pre-initialized environments: build the client now, not in a customer's request. On demand it
    # stays lazy, so importing the module (tests, tools) never touches boto3.
    bootstrap.container().warm()

if settings.tracing_enabled:  # X-Ray SDK is imported only when tracing is on
    from aws_lambda_powertools import Tracer

    lambda_handler = Tracer().capture_lambda_handler(_handle)
else:
    lambda_handler = _handle

__all__ = ["app", "lambda_handler"]
