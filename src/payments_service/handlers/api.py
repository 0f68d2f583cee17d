"""Lambda entry point: Powertools resolver, one call per route, errors mapped to problems in one place."""

from __future__ import annotations

import gc

# Cold start: no collection passes while hundreds of modules (and boto3, on the first request) load.
# After the first request the survivors are frozen out of later collections and collection resumes.
gc.disable()

import warnings
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..dal.payments_table import PaymentsUnavailable
from ..domain.processor import InvalidPaymentSource
from ..idempotency.errors import KeyInUse, KeyReused, TemporarilyUnavailable
from ..idempotency.keys import InvalidKey, MissingKey, parse_key, record_id
from ..models.payments import CreatePaymentRequest, Payment
from ..models.problems import Problem
from ..models.settings import Settings
from . import dependencies
from .create_payment import create_payment, to_http
from .observability import logger, metrics, observe
from .principal import Unauthenticated, merchant_id
from .problems import PROBLEM_JSON, problem, retry_after
from .transport import InvalidBody, parse_body, screen

settings = Settings.from_env()  # fails the cold start loudly if a table name is missing
metrics.namespace = settings.metrics_namespace
# Requests rejected before a key is known emit no metric; that is expected, not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")
_deps: dependencies.Dependencies | None = None


def deps() -> dependencies.Dependencies:
    global _deps
    if _deps is None:
        _deps = dependencies.build(settings)
    return _deps


def use_dependencies(replacement: dependencies.Dependencies | None) -> None:
    """Swap the collaborators (tests, local tools); None rebuilds the real ones on next use."""
    global _deps
    _deps = replacement


_REPLAYED: dict[str, Any] = {
    "Idempotent-Replayed": {
        "description": "true when this is the recorded answer to an earlier request with the same key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
_RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 1}}
}
_HEADERS_OF: dict[int, dict[str, Any]] = {402: _REPLAYED, 409: _RETRY_AFTER, 503: _RETRY_AFTER}


def _problems(*statuses: int) -> dict[int, Any]:
    problem = {"description": "Problem details (RFC 7807)", "content": {PROBLEM_JSON: {"model": Problem}}}
    return {s: {**problem, "headers": _HEADERS_OF[s]} if s in _HEADERS_OF else problem for s in statuses}


# Route documentation, shared with tools/openapi.py, which renders it with typed signatures.
CREATE_PAYMENT_DOC: dict[str, Any] = {
    "summary": "Create a payment, exactly once per Idempotency-Key",
    "responses": {
        201: {
            "description": "Payment created (or the replay of its recorded answer)",
            "headers": {
                "Location": {"description": "/payments/{id} of the payment", "schema": {"type": "string"}},
                **_REPLAYED,
            },
            "content": {"application/json": {"model": Payment}},
        },
        **_problems(400, 401, 402, 409, 413, 415, 422, 500, 503),
    },
}
GET_PAYMENT_DOC: dict[str, Any] = {
    "summary": "Get a payment",
    "responses": {
        200: {"description": "The payment", "content": {"application/json": {"model": Payment}}},
        **_problems(401, 404, 500, 503),
    },
}

# No validation middleware at run time: parse_body validates with the same strict models, cheaper.
app = APIGatewayRestResolver()


def _remaining_ms() -> int | None:
    context = app.lambda_context
    return context.get_remaining_time_in_millis() if context is not None else None


@app.post("/payments", **CREATE_PAYMENT_DOC)
def post_payment() -> Response[str]:
    event = app.current_event.raw_event
    merchant = merchant_id(event)
    key = parse_key(event.get("headers"), event.get("multiValueHeaders"))
    payment = parse_body(CreatePaymentRequest, app.current_event.body)
    with observe(merchant, record_id(merchant, key)) as observation:
        result = create_payment(deps(), merchant, key, payment, _remaining_ms())
        observation.outcome = result.outcome
    return to_http(result)


@app.get("/payments/<payment_id>", **GET_PAYMENT_DOC)
def get_payment(payment_id: str) -> Response[str]:
    # API Gateway hands pathParameters over URL-decoded; the resolver's capture comes from the raw path.
    payment_id = (app.current_event.path_parameters or {}).get("payment_id", payment_id)
    merchant = merchant_id(app.current_event.raw_event)
    found = deps().payments.find(merchant, payment_id) if Payment.ID_PATTERN.match(payment_id) else None
    if found is None:
        raise NotFoundError(f"No payment {payment_id}")
    return Response(200, "application/json", found.public_json())


@app.exception_handler(InvalidBody)
def _invalid_body(error: InvalidBody) -> Response[str]:
    if error.malformed:
        return problem("malformed-body", 400, "The body is not valid JSON")
    return problem("invalid-request", 400, "The request does not match the schema", errors=error.errors)


@app.exception_handler(MissingKey)
def _missing_key(error: MissingKey) -> Response[str]:
    return problem("missing-idempotency-key", 400, str(error))


@app.exception_handler(InvalidKey)
def _invalid_key(error: InvalidKey) -> Response[str]:
    return problem("invalid-idempotency-key", 400, str(error))


@app.exception_handler(Unauthenticated)
def _unauthenticated(error: Unauthenticated) -> Response[str]:
    return problem("unauthenticated", 401, str(error))


@app.exception_handler(NotFoundError)
def _not_found(error: NotFoundError) -> Response[str]:
    return problem("not-found", 404, "No such resource")


@app.exception_handler(KeyInUse)
def _in_use(error: KeyInUse) -> Response[str]:
    detail = "The first request with this key is still being processed; retry later"
    return problem("idempotency-key-in-use", 409, detail, retry_after(error.retry_after_seconds))


@app.exception_handler(KeyReused)
def _reused(error: KeyReused) -> Response[str]:
    detail = "This Idempotency-Key was already used with a different request body"
    return problem("idempotency-key-reused", 422, detail)


@app.exception_handler(InvalidPaymentSource)
def _invalid_source(error: InvalidPaymentSource) -> Response[str]:
    return problem("invalid-payment-source", 400, "The payment source is not recognised by the processor")


@app.exception_handler(TemporarilyUnavailable)
def _unavailable(error: TemporarilyUnavailable) -> Response[str]:
    detail = "A dependency failed transiently; retry with the same Idempotency-Key"
    return problem("service-unavailable", 503, detail, retry_after(error.retry_after_seconds))


@app.exception_handler(PaymentsUnavailable)
def _payments_unavailable(error: PaymentsUnavailable) -> Response[str]:
    return problem("service-unavailable", 503, "Payments are temporarily unreadable", retry_after(1))


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> Response[str]:
    logger.exception("unhandled error")
    return problem("internal-error", 500, "An unexpected error occurred; it has been logged")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def _resolve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        event, rejection = screen(event)
        return rejection or app.resolve(event, context)
    finally:
        if not gc.isenabled():
            gc.freeze()
            gc.enable()


if settings.initialization_type in ("provisioned-concurrency", "snap-start"):
    # Pre-initialized environments: build the client now, not in a customer's request. On demand it
    # stays lazy, so importing the module (tests, tools) never touches boto3.
    deps().warm()

if settings.tracing_enabled:  # X-Ray SDK is imported only when tracing is on
    from aws_lambda_powertools import Tracer

    lambda_handler = Tracer().capture_lambda_handler(_resolve)
else:
    lambda_handler = _resolve

__all__ = ["app", "lambda_handler", "use_dependencies"]
