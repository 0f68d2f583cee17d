"""What API Gateway itself answers (not the function): its gateway responses, rendered from the template.

A type the template customizes under the API's `GatewayResponses` is rendered from it (status, literal
headers, the application/json template with `$context.*` variables); otherwise DEFAULT_4XX/DEFAULT_5XX if
the template has them, like API Gateway; otherwise a built-in problem+json with the same status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from payments_service.handlers.problems import PROBLEM_JSON, TITLES, problem_body

from . import template

PROBLEM_BASE = "urn:idempotent-payments:problem:"


@dataclass(frozen=True)
class Kind:
    status: int
    slug: str
    message: str  # API Gateway's $context.error.message
    error_type: str = ""  # its x-amzn-ErrorType header, where it sends one


# The gateway response types this local edge produces, with API Gateway's default status and message.
KINDS = {
    "MISSING_AUTHENTICATION_TOKEN": Kind(
        403, "missing-authentication-token", "Missing Authentication Token", "MissingAuthenticationTokenException"
    ),
    "REQUEST_TOO_LARGE": Kind(413, "payload-too-large", "Request body too large: API Gateway accepts at most 10 MB"),
    # Malformed framing never reaches API Gateway's routing; its front door answers 400 to it.
    "BAD_REQUEST": Kind(400, "malformed-request", "Malformed HTTP request"),
    "INTEGRATION_TIMEOUT": Kind(504, "integration-timeout", "Endpoint request timed out"),
    "INTEGRATION_FAILURE": Kind(502, "bad-gateway", "Internal server error"),
}
# Titles of the slugs above that the function's own problems do not have.
LOCAL_TITLES = {
    "missing-authentication-token": "Missing authentication token",
    "malformed-request": "Malformed HTTP request",
    "integration-timeout": "Endpoint request timed out",
    "bad-gateway": "The function failed",
}
_VARIABLE = re.compile(r"\$(?:\{context\.([\w.]+)\}|context\.([A-Za-z]\w*(?:\.[A-Za-z]\w*)*))")


@dataclass
class Reply:
    status: int
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""


def fallback_problem(kind: Kind, status: int, detail: str) -> str:
    if kind.slug in TITLES:
        return problem_body(kind.slug, status, detail)
    body = {"type": PROBLEM_BASE + kind.slug, "title": LOCAL_TITLES[kind.slug], "status": status, "detail": detail}
    return json.dumps(body, separators=(",", ":"))


def _substitute(text: str, variables: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), text)


def _header_value(expression: str, request_headers: Mapping[str, str]) -> str | None:
    if len(expression) >= 2 and expression[0] == expression[-1] == "'":
        return expression[1:-1]  # a literal
    prefix = "method.request.header."
    if expression.startswith(prefix):
        wanted = expression[len(prefix) :].lower()
        return next((v for k, v in request_headers.items() if k.lower() == wanted), None)
    return None  # other mappings (paths, query strings) have no local meaning


def render(
    type_name: str,
    request_id: str,
    detail: str | None = None,
    *,
    request_headers: Mapping[str, str] | None = None,
    context: Mapping[str, str] | None = None,
    responses: Mapping[str, Any] | None = None,
    status: int | None = None,
) -> Reply:
    """The gateway response `type_name`; `detail` says what happened (the built-in problem's detail);
    `status` replaces the type's default status (a 431 is a BAD_REQUEST of its own status)."""
    kind = KINDS[type_name]
    if status is not None:
        kind = Kind(status, kind.slug, kind.message, kind.error_type)
    customized = template.gateway_responses() if responses is None else responses
    default = "DEFAULT_5XX" if kind.status >= 500 else "DEFAULT_4XX"
    spec: Mapping[str, Any] = customized.get(type_name) or customized.get(default) or {}
    status = int(spec.get("StatusCode") or kind.status) if type_name in customized else kind.status
    headers: dict[str, list[str]] = {"x-amzn-RequestId": [request_id]}
    if kind.error_type:
        headers["x-amzn-ErrorType"] = [kind.error_type]
    templates: Mapping[str, str] = spec.get("ResponseTemplates") or {}
    body_template = templates.get("application/json") or next(iter(templates.values()), None)
    if body_template is None:
        headers["Content-Type"] = [PROBLEM_JSON]
        body = fallback_problem(kind, status, detail or kind.message)
    else:
        headers["Content-Type"] = ["application/json"]  # API Gateway's default; the template may override it
        variables = {
            "requestId": request_id,
            "extendedRequestId": request_id,
            "error.message": kind.message,
            "error.messageString": json.dumps(kind.message),
            "error.responseType": type_name,
            "error.validationErrorString": "",
            **(context or {}),
        }
        body = _substitute(body_template, variables)
    for name, expression in ((spec.get("ResponseParameters") or {}).get("Headers") or {}).items():
        value = _header_value(str(expression), request_headers or {})
        if value is not None:
            headers = {k: v for k, v in headers.items() if k.lower() != str(name).lower()}
            headers[str(name)] = [value]
    return Reply(status, headers, body.encode())
