"""`make openapi`: print the OpenAPI document Powertools derives from the handler's routes and models.

The Lambda's resolver runs without Powertools' validation middleware (cold start), so its routes
take no typed parameters. Here the same routes, with the same documentation (handlers/api_docs.py) and the same
pydantic models, are declared with typed signatures on a documentation-only resolver.
The committed openapi.json is this output; tests/hostile/test_openapi.py fails when they drift apart.
Things the resolver cannot say are added here, from the code or template that owns them:
- the Idempotency-Key header, which the route reads itself (handlers/idempotency_key.py) instead of declaring it;
- no 422 "HTTPValidationError": the resolver maps every validation error to a 400 problem instead;
- the deployed server and the answers API Gateway gives itself (template.yaml's stage and GatewayResponses).
"""

import contextlib
import json
import os
import sys
from typing import Any

from local import template

TITLE = "idempotent-payments"
VERSION = "1.0.0"
LOCAL_SERVER = "http://127.0.0.1:3000"
DESCRIPTION = (
    "Payments that charge exactly once, and refunds that never exceed them. `POST /payments` and "
    "`POST /payments/{payment_id}/refunds` require an `Idempotency-Key` header; "
    "retrying a request with the same key and body, any number of times and concurrently, charges once "
    "and replays the first answer (header `Idempotent-Replayed: true`). The same key with a different "
    "body gets 422; a key whose first request is still running gets 409 with `Retry-After`. "
    "Every error is an RFC 9457 `application/problem+json` body whose `type` is a "
    "`urn:idempotent-payments:problem:` URN. Callers sign requests with SigV4 (API Gateway AWS_IAM); "
    "the merchant is the signing principal. The local server (`make run`) takes the merchant from the "
    "`X-Merchant-Id` header instead."
)
KEY_DESCRIPTION = (
    "1 to {max} visible ASCII characters without spaces, double quotes or backslashes, bare or in double "
    "quotes (a structured-field string). Repeating the header is allowed only with equal values."
)
# Cold start reads these; the generator never talks to DynamoDB, so any well-formed name will do.
_DUMMY_ENV = {
    "IDEMPOTENCY_TABLE_NAME": "openapi-IdempotencyTable",
    "PAYMENTS_TABLE_NAME": "openapi-PaymentsTable",
    "REFUNDS_TABLE_NAME": "openapi-RefundsTable",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
# Problems API Gateway answers itself, before the function runs (template.yaml GatewayResponses).
EDGE_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": "Not SigV4-signed, or no such route (API Gateway; the function never runs). "
    "A bad or expired signature and a caller not allowed to invoke the API get 403 too.",
    "THROTTLED": "Over the stage's rate or burst limit (API Gateway). Retry later with the same key and body.",
    "INTEGRATION_TIMEOUT": "The function did not answer within API Gateway's 29 s. Retry with the same key and body: "
    "it replays the outcome, or gets 409 while the first attempt still runs; it never charges twice.",
}


def _import_docs() -> Any:
    for name, value in _DUMMY_ENV.items():
        os.environ.setdefault(name, value)
    # Importing the handler creates no boto3 client (dependencies are built on the first request).
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the document alone
        from payments_service.handlers import api_docs
    return api_docs


def idempotency_key_parameter() -> dict[str, Any]:
    """The header as idempotency.keys validates it, in JSON Schema (ECMA-262 regex) terms."""
    from payments_service.idempotency import keys

    # The one definition of a key, unanchored: Python's `^...$` / `\A...\Z` become an ECMA-262 `^(?:...)$`.
    token = keys.KEY_PATTERN.pattern.removeprefix("^").removeprefix("\\A").removesuffix("$").removesuffix("\\Z")
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": True,
        "description": KEY_DESCRIPTION.format(max=keys.MAX_LENGTH),
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": keys.MAX_LENGTH + 2,
            "pattern": f'^(?:{token}|"{token}")$',
        },
    }


def _documentation_resolver(docs: Any) -> Any:
    """The handler's routes with typed signatures, for Powertools' OpenAPI generator only."""
    from typing import Annotated

    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
    from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

    from payments_service.domain.pages import DEFAULT_PAGE, MAX_PAGE
    from payments_service.models.payments import CreatePaymentRequest
    from payments_service.models.refunds import CreateRefundRequest

    doc = APIGatewayRestResolver(enable_validation=True)
    _NO_BODY = CreateRefundRequest()  # the body is optional: none at all is the empty request
    payment_id_doc = Path(description="pay_ followed by 24 hex digits")
    limit_doc = Query(ge=1, le=MAX_PAGE, description=f"Page size, 1 to {MAX_PAGE} (default {DEFAULT_PAGE})")
    cursor_doc = Query(description="The next_cursor of the previous page; any other value is a 400 invalid-cursor")

    @doc.post("/payments", **docs.CREATE_PAYMENT_DOC)
    def post_payment(payment: Annotated[CreatePaymentRequest, Body()]) -> Response[str]:
        raise NotImplementedError  # documentation only

    @doc.get("/payments/<payment_id>", **docs.GET_PAYMENT_DOC)
    def get_payment(payment_id: Annotated[str, payment_id_doc]) -> Response[str]:
        raise NotImplementedError  # documentation only

    @doc.get("/payments", **docs.LIST_PAYMENTS_DOC)
    def list_payments(
        limit: Annotated[int, limit_doc] = DEFAULT_PAGE, starting_after: Annotated[str, cursor_doc] = ""
    ) -> Response[str]:
        raise NotImplementedError  # documentation only

    @doc.post("/payments/<payment_id>/refunds", **docs.CREATE_REFUND_DOC)
    def post_refund(
        payment_id: Annotated[str, payment_id_doc], refund: Annotated[CreateRefundRequest, Body()] = _NO_BODY
    ) -> Response[str]:
        raise NotImplementedError  # documentation only

    @doc.get("/payments/<payment_id>/refunds", **docs.LIST_REFUNDS_DOC)
    def list_refunds(
        payment_id: Annotated[str, payment_id_doc],
        limit: Annotated[int, limit_doc] = DEFAULT_PAGE,
        starting_after: Annotated[str, cursor_doc] = "",
    ) -> Response[str]:
        raise NotImplementedError  # documentation only

    @doc.get("/payments/<payment_id>/refunds/<refund_id>", **docs.GET_REFUND_DOC)
    def get_refund(
        payment_id: Annotated[str, payment_id_doc],
        refund_id: Annotated[str, Path(description="re_ followed by 24 hex digits")],
    ) -> Response[str]:
        raise NotImplementedError  # documentation only

    @doc.post("/webhooks/stripe", **docs.STRIPE_WEBHOOK_DOC)
    def stripe_event() -> Response[str]:
        raise NotImplementedError  # documentation only

    return doc


def _api_properties() -> dict[str, Any]:
    (api,) = template.resources("AWS::Serverless::Api").values()
    properties: dict[str, Any] = api["Properties"]
    return properties


def _deployed_server() -> Any:
    from aws_lambda_powertools.event_handler.openapi.models import Server, ServerVariable

    return Server(
        url="https://{restApiId}.execute-api.{region}.amazonaws.com/" + _api_properties()["StageName"],
        description="Deployed stage (stack output ApiUrl). Behind a custom domain: https://{domain}/{basePath}",
        variables={
            "restApiId": ServerVariable(default="abc123defg", description="The REST API id"),
            "region": ServerVariable(default="us-east-1", description="The stack's AWS region"),
        },
    )


def _edge_responses() -> dict[str, Any]:
    gateway = _api_properties()["GatewayResponses"]
    responses: dict[str, Any] = {}
    for response_type, description in EDGE_RESPONSES.items():
        response: dict[str, Any] = {
            "description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if "Retry-After" in gateway[response_type]["ResponseParameters"]["Headers"]:
            response["headers"] = {
                "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
            }
        responses[str(gateway[response_type]["StatusCode"])] = response
    return responses


def _generated() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server

    docs = _import_docs()
    sigv4 = APIKey.model_validate(
        {
            "type": "apiKey",
            "in": APIKeyIn.header,
            "name": "Authorization",
            "description": "AWS Signature Version 4 (API Gateway AWS_IAM authorizer, template.yaml)",
            "x-amazon-apigateway-authtype": "awsSigv4",
        }
    )
    text = _documentation_resolver(docs).get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        servers=[
            _deployed_server(),
            Server(url=LOCAL_SERVER, description="make run: local server with an embedded DynamoDB"),
        ],
        security_schemes={"sigv4": sigv4},
        security=[{"sigv4": []}],
    )
    generated: dict[str, Any] = json.loads(text)
    return generated


def _refers_to(node: Any, schema: str) -> bool:
    return f'"#/components/schemas/{schema}"' in json.dumps(node)


def _reachable_schemas(doc: dict[str, Any]) -> set[str]:
    schemas = doc["components"]["schemas"]
    roots = {k: v for k, v in doc.items() if k != "components"}
    reached = {name for name in schemas if _refers_to(roots, name)}
    frontier = set(reached)
    while frontier:
        found = {name for name in schemas if name not in reached and _refers_to([schemas[f] for f in frontier], name)}
        reached |= found
        frontier = found
    return reached


def document() -> dict[str, Any]:
    """The OpenAPI 3 document as a dict."""
    doc = _generated()
    for post in (ops["post"] for ops in doc["paths"].values() if "post" in ops):
        post["parameters"] = [*post.get("parameters", []), idempotency_key_parameter()]
    edge = _edge_responses()
    for operation in (op for path in doc["paths"].values() for op in path.values()):
        responses = operation["responses"]
        responses.update({status: response for status, response in edge.items() if status not in responses})
        for status in [s for s, r in responses.items() if _refers_to(r, "HTTPValidationError")]:
            del responses[status]  # never sent: RequestValidationError becomes a 400 problem
    reachable = _reachable_schemas(doc)
    for name in _VALIDATION_SCHEMAS:
        if name not in reachable:
            doc["components"]["schemas"].pop(name, None)
    return doc


def render() -> str:
    """Deterministic text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
