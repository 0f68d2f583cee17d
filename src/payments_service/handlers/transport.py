"""HTTP-level screening of a request body before routing: encoding, size and media type.

Powertools' validation would otherwise decode base64/UTF-8 and parse forms and multipart bodies
itself, turning some malformed input into 500s; we answer those with clear 4xx problems instead.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from .problems import PROBLEM_JSON, problem_body

MAX_BODY_BYTES = 16 * 1024  # a maximal valid payment is about 12 KiB
_JSON_TYPES = ("application/json",)


def _header(event: Mapping[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name and isinstance(value, str):
            return value
    return None


def _rejection(slug: str, status: int, detail: str) -> dict[str, Any]:
    # Built by hand: this runs before the resolver, which would otherwise render the response.
    return {
        "statusCode": status,
        "headers": {"Content-Type": PROBLEM_JSON},
        "multiValueHeaders": {},
        "body": problem_body(slug, status, detail),
        "isBase64Encoded": False,
    }


def screen(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Return (event with a plain-text body, None) or (event, the API Gateway problem response)."""
    body = event.get("body")
    if not body:
        return event, None
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return event, _rejection("malformed-body", 400, "The body is marked base64 but is not valid base64")
    else:
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        return event, _rejection("payload-too-large", 413, f"The body must not exceed {MAX_BODY_BYTES} bytes")
    content_type = (_header(event, "content-type") or "application/json").split(";")[0].strip().lower()
    if content_type not in _JSON_TYPES:
        return event, _rejection("unsupported-media-type", 415, "Send the body as application/json")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return event, _rejection("malformed-body", 400, "The body is not valid UTF-8")
    return {**event, "body": text, "isBase64Encoded": False}, None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str) -> Any:
    """json.loads that turns NaN/Infinity and pathological nesting into ordinary decode errors."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise json.JSONDecodeError("nesting too deep", text, 0) from None
    except ValueError as error:
        if isinstance(error, json.JSONDecodeError):
            raise
        raise json.JSONDecodeError(str(error), text, 0) from None
