"""The committed openapi.json is what the code generates, is valid OpenAPI, and tells the truth about the API."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from local import template
from payments_service.handlers.idempotency_key import parse_key
from payments_service.idempotency.keys import InvalidKey
from tools import openapi

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "openapi.json"
STALE = "openapi.json is out of date with the code: run `make openapi` and commit the result"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(COMMITTED.read_text())
    return loaded


def test_the_committed_document_is_what_the_code_generates() -> None:
    # Given the committed file and a fresh in-process generation
    # Then they are byte for byte equal (sorted keys, trailing newline)
    assert COMMITTED.read_text() == openapi.render(), STALE


def test_make_openapi_prints_only_the_document_without_table_names_set() -> None:
    # `make openapi` runs `python -m tools.openapi > openapi.json` on a bare shell: stdout must be the document
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TABLE_NAME")}
    done = subprocess.run(
        [sys.executable, "-m", "tools.openapi"], cwd=ROOT, env=env, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode() == COMMITTED.read_text(), STALE


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)  # raises with the offending path if not
    assert document["openapi"].startswith("3.")


def test_it_documents_exactly_the_routes_of_template_yaml(document: dict[str, Any]) -> None:
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    deployed = {(route.method, route.path) for route in template.routes()}
    assert documented == deployed


SUCCESS_MODEL = {
    ("post", "/payments"): "Payment",
    ("get", "/payments"): "PaymentList",
    ("get", "/payments/{payment_id}"): "Payment",
    ("post", "/payments/{payment_id}/refunds"): "Refund",
    ("get", "/payments/{payment_id}/refunds"): "RefundList",
    ("get", "/payments/{payment_id}/refunds/{refund_id}"): "Refund",
    ("post", "/webhooks/stripe"): "EventReceipt",
}


def test_every_documented_error_is_a_problem_and_success_has_the_route_model(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            model = {"$ref": f"#/components/schemas/{SUCCESS_MODEL[method, path]}"}
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                if int(status) >= 400:
                    assert content == {"application/problem+json": {"schema": PROBLEM_REF}}, (method, path, status)
                else:
                    assert content == {"application/json": {"schema": model}}, (method, path, status)
    assert "201" in document["paths"]["/payments"]["post"]["responses"]
    assert "202" in document["paths"]["/payments"]["post"]["responses"]  # 3-D Secure: awaiting the customer
    assert "201" in document["paths"]["/payments/{payment_id}/refunds"]["post"]["responses"]
    assert "200" in document["paths"]["/payments/{payment_id}"]["get"]["responses"]


@pytest.mark.parametrize(
    ("status", "header"),
    [("201", "Location"), ("201", "Idempotent-Replayed"), ("409", "Retry-After"), ("503", "Retry-After")],
)
@pytest.mark.parametrize("path", ["/payments", "/payments/{payment_id}/refunds"])
def test_the_headers_clients_act_on_are_documented(
    document: dict[str, Any], status: str, header: str, path: str
) -> None:
    # A client follows Location, trusts Idempotent-Replayed and waits Retry-After: the contract must name them.
    response = document["paths"][path]["post"]["responses"][status]
    assert header in response.get("headers", {}), f"POST {path} {status} does not document {header}"


def test_the_create_body_is_the_strict_request_model(document: dict[str, Any]) -> None:
    body = document["paths"]["/payments"]["post"]["requestBody"]
    assert body["required"] is True
    assert body["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/CreatePaymentRequest"}}}
    model = document["components"]["schemas"]["CreatePaymentRequest"]
    assert model["additionalProperties"] is False
    assert set(model["required"]) == {"amount", "currency", "source"}


def _key_parameter(document: dict[str, Any]) -> dict[str, Any]:
    (parameter,) = [
        p for p in document["paths"]["/payments"]["post"]["parameters"] if p["name"].lower() == "idempotency-key"
    ]
    return parameter


def test_the_idempotency_key_header_is_documented_as_required(document: dict[str, Any]) -> None:
    parameter = _key_parameter(document)
    assert (parameter["in"], parameter["required"]) == ("header", True)
    refunds = document["paths"]["/payments/{payment_id}/refunds"]["post"]["parameters"]
    assert [p for p in refunds if p["name"] == "Idempotency-Key"] == [parameter]


def test_the_refund_body_is_the_strict_request_model_and_optional(document: dict[str, Any]) -> None:
    body = document["paths"]["/payments/{payment_id}/refunds"]["post"]["requestBody"]
    assert body.get("required", False) is False  # no body: all that remains
    model = document["components"]["schemas"]["CreateRefundRequest"]
    assert model["additionalProperties"] is False
    assert set(model.get("required", [])) == set()


@functools.cache
def _documented_key_schema() -> Any:
    return jsonschema_rs.validator_for(_key_parameter(json.loads(COMMITTED.read_text()))["schema"])


def _accepted(value: str) -> bool:
    try:
        parse_key({"headers": {"Idempotency-Key": value}})
    except InvalidKey:
        return False
    return True


SAMPLES = [
    "a",
    "!",
    "~",
    "order-1001",
    "a" * 255,
    "a" * 256,
    '"abc"',
    '"' + "a" * 255 + '"',
    '"' + "a" * 256 + '"',
    '""',
    '"',
    '"abc',
    'a"b',
    '"a"b"',
    "a b",
    "a\\b",
    "é",
    "a\x7f",
    "a\x00",
    "a\tb",
    "abc\n",  # Python's `$` matches before a final newline; the documented (ECMA) pattern does not
]


@pytest.mark.parametrize("value", SAMPLES, ids=repr)
def test_the_documented_key_schema_accepts_exactly_what_the_parser_accepts(value: str) -> None:
    # The schema is what schemathesis and client generators obey; the parser is what the API enforces.
    assert _documented_key_schema().is_valid(value) == _accepted(value)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x80), max_size=260).filter(lambda s: s == s.strip(" \t")))
def test_the_documented_key_schema_agrees_with_the_parser_on_any_ascii_text(value: str) -> None:
    # Leading/trailing blanks are excluded: HTTP strips them before the value reaches either side.
    assert _documented_key_schema().is_valid(value) == _accepted(value)
