"""Lambda entry point of the HTTP API: Powertools resolver, one use-case call per route."""

from __future__ import annotations

import warnings
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import bootstrap
from ..models.payments import CreatePaymentRequest
from . import observability
from .idempotency_key import key_hash, parse_key
from .invocation import remaining_ms
from .links import base_path
from .observability import logger, metrics
from .payment_responses import payment_response
from .principal import merchant_id
from .problems import problem_for
from .transport import BodyRejected, parse_body, screen

# A request refused before anything is known still emits its metric; no warning for an empty flush.
warnings.filterwarnings("ignore", message="No application metrics to publish")

settings = bootstrap.settings()  # read at init: a missing table name fails the cold start loudly


def _cors(origin: str) -> CORSConfig | None:
    """Browsers may read our answers only from the configured origin, headers clients act on included."""
    if not origin:
        return None
    return CORSConfig(
        allow_origin=origin,
        allow_headers=["Idempotency-Key", "Content-Type", "Authorization", "X-Amz-Date", "X-Amz-Security-Token"],
        expose_headers=["Idempotent-Replayed", "Location", "Retry-After"],
    )


# No validation middleware at run time: parse_body validates with the same strict models, cheaper.
app = APIGatewayRestResolver(cors=_cors(settings.cors_allowed_origin))


def _path_parameter(name: str, captured: str) -> str:
    # API Gateway hands pathParameters over URL-decoded; the resolver's capture comes from the raw path.
    return str((app.current_event.path_parameters or {}).get(name, captured))


def _merchant() -> str:
    """The caller's merchant, the one way for every route: MERCHANT_SCOPE applies to all of them."""
    merchant = merchant_id(app.current_event.raw_event, bootstrap.settings().merchant_scope)
    observability.current().fields["merchant"] = merchant
    return merchant


@app.post("/payments")
def post_payment() -> Response[str]:
    event = app.current_event.raw_event
    merchant = _merchant()
    key = parse_key(event)
    observability.current().fields["idempotency_key_hash"] = key_hash(merchant, key)
    payment = parse_body(CreatePaymentRequest, app.current_event.body)
    result = bootstrap.container().create_payment(merchant, key, payment, remaining_ms(app.lambda_context))
    observability.current().outcome = result.outcome
    return payment_response(result, base_path(event))


@app.get("/payments/<payment_id>")
def get_payment(payment_id: str) -> Response[str]:
    # API Gateway hands pathParameters over URL-decoded; the resolver's capture comes from the raw path.
    payment_id = (app.current_event.path_parameters or {}).get("payment_id", payment_id)
    found = bootstrap.container().get_payment(_merchant(), payment_id)
    if found is None:
        raise NotFoundError(f"No payment {payment_id}")
    observability.current().outcome = "found"
    return Response(200, "application/json", found.public_json())


# Listing and refunds import what they need when first called: a cold start's first POST /payments never
# pays for them. The OpenAPI documentation (api_docs.py) is read by tools/openapi.py only. Each route reads
# its event before importing: the resolver keeps the event on its class, and tests invoke it from threads.
@app.get("/payments")
def list_payments() -> Response[str]:
    merchant, event = _merchant(), app.current_event.raw_event
    from .list_responses import payment_list
    from .query import list_query

    limit, cursor = list_query(event)
    page = bootstrap.container().list_payments(merchant, limit, cursor)
    observability.current().outcome = "listed"
    return payment_list(page)


@app.post("/payments/<payment_id>/refunds")
def post_refund(payment_id: str) -> Response[str]:
    payment_id = _path_parameter("payment_id", payment_id)
    event, body = app.current_event.raw_event, app.current_event.body
    merchant = _merchant()
    from ..models.refunds import CreateRefundRequest
    from .refund_responses import refund_response

    key = parse_key(event)
    observability.current().fields["idempotency_key_hash"] = key_hash(merchant, key)
    # No body at all is the empty refund request: all that remains, no reason.
    refund = parse_body(CreateRefundRequest, body or "{}")
    result = bootstrap.container().create_refund(merchant, key, payment_id, refund, remaining_ms(app.lambda_context))
    observability.current().outcome = result.outcome
    return refund_response(result, base_path(event))


@app.get("/payments/<payment_id>/refunds")
def list_refunds(payment_id: str) -> Response[str]:
    payment_id = _path_parameter("payment_id", payment_id)
    merchant, event = _merchant(), app.current_event.raw_event
    from .list_responses import refund_list
    from .query import list_query

    limit, cursor = list_query(event)
    page = bootstrap.container().list_refunds(merchant, payment_id, limit, cursor)
    observability.current().outcome = "listed"
    return refund_list(page)


@app.get("/payments/<payment_id>/refunds/<refund_id>")
def get_refund(payment_id: str, refund_id: str) -> Response[str]:
    payment_id = _path_parameter("payment_id", payment_id)
    refund_id = _path_parameter("refund_id", refund_id)
    found = bootstrap.container().get_refund(_merchant(), payment_id, refund_id)
    if found is None:
        raise NotFoundError(f"No refund {refund_id}")
    observability.current().outcome = "found"
    return Response(200, "application/json", found.public_json())


@app.exception_handler(Exception)
def _problem(error: Exception) -> Response[str]:
    problem = problem_for(error)
    observability.current().failed(problem.outcome, error)  # its level, and a traceback only for ours to fix
    return problem.response()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    observation = observability.observe(f"{event.get('httpMethod')} {event.get('resource')}")
    try:
        try:
            with bootstrap.budget(remaining_ms(context)):
                response = app.resolve(screen(event), context)
        except BodyRejected as rejected:
            problem = problem_for(rejected)
            observation.failed(problem.outcome, rejected)
            response = problem.proxy_response()
        observation.finish(int(response.get("statusCode", 500)))
        return response
    finally:
        bootstrap.resume_collection()


metrics.namespace = settings.metrics_namespace
bootstrap.initialize(settings.initialization_type)

if settings.tracing_enabled:  # X-Ray SDK is imported only when tracing is on
    from aws_lambda_powertools import Tracer

    lambda_handler = Tracer().capture_lambda_handler(_handle)
else:
    lambda_handler = _handle

__all__ = ["app", "lambda_handler"]
