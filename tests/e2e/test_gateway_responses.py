"""Unknown routes and methods get API Gateway's MISSING_AUTHENTICATION_TOKEN gateway response: rendered
from the template's GatewayResponses when it has one, else a built-in 403 problem."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, LocalServer, start_server, stop_server
from tests.e2e.test_local_server import request

CUSTOM = """      GatewayResponses:
        MISSING_AUTHENTICATION_TOKEN:
          StatusCode: 403
          ResponseParameters:
            Headers:
              Content-Type: "'application/problem+json'"
              X-Fixture: "'from-template'"
          ResponseTemplates:
            application/json: '{"type":"urn:idempotent-payments:problem:missing-authentication-token",\
"title":"Missing authentication token","status":403,"detail":$context.error.messageString,\
"requestId":"$context.requestId","kind":"$context.error.responseType"}'
"""


def template_variant(gateway_responses: str) -> str:
    """template.yaml with the API's GatewayResponses replaced (or removed, with "")."""
    text = (ROOT / "template.yaml").read_text()
    text = re.sub(r"\n      GatewayResponses:\n(?:        .*\n|\s*\n)*", "\n", text)  # drop any existing block
    head, sep, tail = text.partition("      StageName: v1\n")
    assert sep, "PaymentsApi's StageName moved: update this fixture"
    return head + sep + gateway_responses + tail


def serve(tmp_path: Path, gateway_responses: str) -> Iterator[LocalServer]:
    fixture = tmp_path / "template.yaml"
    fixture.write_text(template_variant(gateway_responses))
    server = start_server(tmp_path / "server.log", "--template", str(fixture))
    try:
        yield server
    finally:
        stop_server(server.process)


@pytest.fixture
def customized(tmp_path: Path) -> Iterator[LocalServer]:
    yield from serve(tmp_path, CUSTOM)


@pytest.fixture
def uncustomized(tmp_path: Path) -> Iterator[LocalServer]:
    yield from serve(tmp_path, "")


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("DELETE", "/payments"), ("POST", "/payments/x")])
def test_the_templates_gateway_response_is_rendered(customized: LocalServer, method: str, path: str) -> None:
    status, headers, body = request(customized, method, path)
    assert status == 403
    assert headers["content-type"] == "application/problem+json" and headers["x-fixture"] == "from-template"
    problem = json.loads(body)
    assert problem["type"] == "urn:idempotent-payments:problem:missing-authentication-token"
    assert problem["detail"] == "Missing Authentication Token"  # $context.error.messageString, quoted
    assert problem["requestId"] == headers["x-amzn-requestid"] and len(problem["requestId"]) == 36
    assert problem["kind"] == "MISSING_AUTHENTICATION_TOKEN"


def test_without_gateway_responses_the_built_in_403_problem_answers(uncustomized: LocalServer) -> None:
    status, headers, body = request(uncustomized, "PUT", "/payments")
    assert status == 403 and headers["content-type"] == "application/problem+json"
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    problem = json.loads(body)
    assert problem["type"] == "urn:idempotent-payments:problem:missing-authentication-token"
    assert problem["status"] == 403 and "PUT /payments" in problem["detail"]
    assert "x-fixture" not in headers
    # and the routes the template does have still reach the function
    assert request(uncustomized, "GET", "/payments/pay_000000000000000000000000")[0] == 404
