from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from payments_service.handlers.principal import Unauthenticated, merchant_id
from payments_service.handlers.problems import problem_for
from payments_service.handlers.transport import MAX_BODY_BYTES, BodyRejected, parse_json, screen


def _ctx(**context: Any) -> dict[str, Any]:
    return {"requestContext": context}


def test_authorizer_principal_wins_in_its_own_namespace() -> None:
    event = _ctx(authorizer={"principalId": "merchant-7"}, identity={"userArn": "arn:aws:iam::1:user/x"})
    assert merchant_id(event, "role") == "authorizer:merchant-7"


def test_an_authorizer_principal_can_never_equal_an_iam_caller() -> None:
    arn = "arn:aws:iam::111111111111:user/merchant-a"
    by_authorizer = merchant_id(_ctx(authorizer={"principalId": arn}), "role")
    by_iam = merchant_id(_ctx(identity={"userArn": arn}), "role")
    assert by_iam == arn and by_authorizer != by_iam


def test_sessions_of_one_role_can_be_scoped_apart_by_setting() -> None:
    a = _ctx(identity={"userArn": "arn:aws:sts::123456789012:assumed-role/Checkout/alice"})
    b = _ctx(identity={"userArn": "arn:aws:sts::123456789012:assumed-role/Checkout/bob"})
    assert merchant_id(a, scope="role-session") == "arn:aws:sts::123456789012:assumed-role/Checkout/alice"
    assert merchant_id(a, scope="role-session") != merchant_id(b, scope="role-session")
    assert merchant_id(a, scope="role") == merchant_id(b, scope="role")  # the default, unchanged


def test_the_merchant_scope_is_a_documented_setting_defaulting_to_the_role() -> None:
    from payments_service.models.settings import Settings

    tables = {"IDEMPOTENCY_TABLE_NAME": "keys", "PAYMENTS_TABLE_NAME": "payments", "REFUNDS_TABLE_NAME": "refunds"}
    assert Settings.from_env(tables).merchant_scope == "role"
    assert Settings.from_env({**tables, "MERCHANT_SCOPE": "role-session"}).merchant_scope == "role-session"


def test_assumed_role_sessions_of_one_role_are_one_merchant() -> None:
    a = _ctx(identity={"userArn": "arn:aws:sts::123456789012:assumed-role/Checkout/session-1"})
    b = _ctx(identity={"userArn": "arn:aws:sts::123456789012:assumed-role/Checkout/i-0abc"})
    assert merchant_id(a, "role") == merchant_id(b, "role") == "arn:aws:sts::123456789012:assumed-role/Checkout"


def test_iam_user_is_its_arn() -> None:
    assert merchant_id(_ctx(identity={"userArn": "arn:aws:iam::1:user/x"}), "role") == "arn:aws:iam::1:user/x"


@pytest.mark.parametrize("context", [{}, {"identity": {"userArn": None}}, {"authorizer": {"principalId": ""}}])
def test_no_principal_is_unauthenticated(context: dict[str, Any]) -> None:
    with pytest.raises(Unauthenticated):
        merchant_id(_ctx(**context), "role")


def _event(body: str | None, *, b64: bool = False, content_type: str | None = "application/json") -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    return {"httpMethod": "POST", "headers": headers, "body": body, "isBase64Encoded": b64}


def test_base64_json_is_decoded_for_the_resolver() -> None:
    event = screen(_event(base64.b64encode(b'{"a":1}').decode(), b64=True))
    assert (event["body"], event["isBase64Encoded"]) == ('{"a":1}', False)


@pytest.mark.parametrize(
    ("event", "status", "slug"),
    [
        (_event("!!notbase64", b64=True), 400, "malformed-body"),
        (_event(base64.b64encode(b"\xff\xfe").decode(), b64=True), 400, "malformed-body"),
        (_event("x" * (MAX_BODY_BYTES + 1)), 413, "payload-too-large"),
        (_event("a=1", content_type="application/x-www-form-urlencoded"), 415, "unsupported-media-type"),
        (_event("{}", content_type="multipart/form-data"), 415, "unsupported-media-type"),
    ],
)
def test_malformed_transport_gets_a_problem(event: dict[str, Any], status: int, slug: str) -> None:
    with pytest.raises(BodyRejected) as refused:
        screen(event)
    rejection = problem_for(refused.value).proxy_response()
    assert rejection["statusCode"] == status
    assert rejection["headers"]["Content-Type"] == "application/problem+json"
    assert json.loads(rejection["body"])["type"].endswith(slug)


def test_json_with_charset_and_missing_content_type_pass() -> None:
    assert screen(_event("{}", content_type="application/json; charset=utf-8"))["body"] == "{}"
    assert screen(_event("{}", content_type=None))["body"] == "{}"


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a": NaN}', '{"a": Infinity}'])
def test_pathological_json_is_a_decode_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        parse_json(text)
