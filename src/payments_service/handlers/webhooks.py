"""Lambda entry point of `POST /webhooks/stripe`: the one route not behind IAM (Stripe cannot sign SigV4).

Its own function and role: it can move payments and refunds along their lives, and nothing else.
The signature is checked on the raw bytes before anything is parsed; a bad one changes nothing and
is a 400. A verified event is applied (logic/apply_processor_event.py) and acknowledged with a 2xx,
ours or not, so Stripe only retries what failed on our side (a 503: a store was unreachable).
"""

from __future__ import annotations

import base64
import binascii
import warnings
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import bootstrap
from ..domain.processor_events import InvalidEvent
from ..models.events import EventReceipt
from . import observability
from .headers import header_values
from .observability import logger, metrics
from .problems import problem_for
from .transport import BodyRejected

warnings.filterwarnings("ignore", message="No application metrics to publish")

SIGNATURE_HEADER = "Stripe-Signature"
# Stripe's events are a few KiB; a PaymentIntent with its charges stays well under this.
MAX_EVENT_BYTES = 256 * 1024

app = APIGatewayRestResolver()


def _raw_body(event: dict[str, Any]) -> bytes:
    """The body byte for byte as Stripe signed it."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BodyRejected("malformed-body", 400, "The body is marked base64 but is not valid base64") from None
    else:
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_EVENT_BYTES:
        raise BodyRejected("payload-too-large", 413, f"The body must not exceed {MAX_EVENT_BYTES} bytes")
    if not raw:
        raise InvalidEvent("empty body")
    return raw


@app.post("/webhooks/stripe")
def stripe_event() -> Response[str]:
    raw_event = app.current_event.raw_event
    signatures = header_values(raw_event, SIGNATURE_HEADER)
    event = bootstrap.container().event_verifier().verify(_raw_body(raw_event), signatures[0] if signatures else None)
    observability.current().fields["event_id"] = event.event_id
    outcome = bootstrap.container().apply_processor_event(event)
    observability.current().outcome = f"event_{outcome}"
    return Response(200, "application/json", EventReceipt(outcome=outcome).model_dump_json())


@app.exception_handler(Exception)
def _problem(error: Exception) -> Response[str]:
    problem = problem_for(error)
    observability.current().failed(problem.outcome, error)  # its level, and a traceback only for ours to fix
    return problem.response()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    observation = observability.observe("POST /webhooks/stripe")
    try:
        with bootstrap.budget(context.get_remaining_time_in_millis() if context else None):
            response = app.resolve(event, context)
        observation.finish(int(response.get("statusCode", 500)))
        return response
    finally:
        bootstrap.resume_collection()


metrics.namespace = bootstrap.settings().metrics_namespace
