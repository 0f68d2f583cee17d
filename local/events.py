"""API Gateway REST proxy events shaped like those `sam local start-api` produces."""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from . import template

LOCAL_MERCHANT = "arn:aws:iam::000000000000:user/local-merchant"
MERCHANT_HEADER = "X-Merchant-Id"  # local only: stands in for the IAM principal API Gateway verifies


def _pattern(path: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{regex}$")


def match_route(method: str, path: str) -> tuple[str | None, dict[str, str] | None, bool]:
    """Return (resource path, path parameters, path known) for a request against the template's routes."""
    route, parameters, path_known = find_route(method, path)
    return (route.path if route else None), parameters, path_known


def find_route(method: str, path: str) -> tuple[template.Route | None, dict[str, str] | None, bool]:
    """The template's route for a request (with its function), its path parameters, and whether the path is known."""
    path_known = False
    for route in template.routes():
        found = _pattern(route.path).match(path)
        if found:
            path_known = True
            if route.method == method.upper():
                # API Gateway hands path parameters over URL-decoded.
                return route, {k: unquote(v) for k, v in found.groupdict().items()} or None, True
    return None, None, path_known


def build_event(
    method: str,
    path: str,
    headers: Sequence[tuple[str, str]] | Mapping[str, str] = (),
    query: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
    *,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    merchant: str | None = LOCAL_MERCHANT,
    binary: bool = False,
) -> dict[str, Any]:
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value  # like API Gateway: the last value wins in `headers`
        multi.setdefault(name, []).append(value)
    query_single = {k: v for k, v in query} or None
    query_multi: dict[str, list[str]] = {}
    for k, v in query:
        query_multi.setdefault(k, []).append(v)
    encoded_body: str | None = None
    is_base64 = False
    if body:
        if binary:
            encoded_body, is_base64 = base64.b64encode(body).decode(), True
        else:
            try:
                encoded_body = body.decode("utf-8")
            except UnicodeDecodeError:
                encoded_body, is_base64 = base64.b64encode(body).decode(), True
    resource = resource or path
    now = time.time()
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": query_single,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "extendedRequestId": None,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": path,
            "accountId": "000000000000",
            "protocol": "HTTP/1.1",
            "stage": "v1",
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(now * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {
                "sourceIp": "127.0.0.1",
                "userAgent": single.get("User-Agent"),
                "userArn": merchant,
                "caller": None,
                "accessKey": None,
                "accountId": None,
                "user": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "cognitoAuthenticationProvider": None,
            },
            "domainName": "localhost:3000",
            "apiId": "local",
        },
        "body": encoded_body,
        "isBase64Encoded": is_base64,
    }
