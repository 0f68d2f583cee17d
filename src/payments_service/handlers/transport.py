"""HTTP-level screening of a request body before routing: encoding, size and media type.

Powertools' validation would otherwise decode base64/UTF-8 and parse forms and multipart bodies
itself, turning some malformed input into 500s; we answer those with clear 4xx problems instead.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..domain.errors import Invalid
from .headers import header_values

ModelT = TypeVar("ModelT", bound=BaseModel)
MAX_BODY_BYTES = 16 * 1024  # a maximal valid payment is about 12 KiB
_JSON_TYPES = ("application/json",)


class BodyRejected(Invalid):
    """The body was refused before routing (encoding, size, media type)."""

    def __init__(self, slug: str, status: int, detail: str) -> None:
        super().__init__(detail)
        self.slug, self.status, self.detail = slug, status, detail


def screen(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a plain-text body, or BodyRejected."""
    body = event.get("body")
    if not body:
        return event
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BodyRejected("malformed-body", 400, "The body is marked base64 but is not valid base64") from None
    else:
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise BodyRejected("payload-too-large", 413, f"The body must not exceed {MAX_BODY_BYTES} bytes")
    # Every Content-Type sent must be JSON: two conflicting ones are not resolved by guessing.
    content_types = {v.split(";")[0].strip().lower() for v in header_values(event, "content-type")}
    if not content_types <= set(_JSON_TYPES):
        raise BodyRejected("unsupported-media-type", 415, "Send the body as application/json")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyRejected("malformed-body", 400, "The body is not valid UTF-8") from None
    return {**event, "body": text, "isBase64Encoded": False}


class InvalidBody(Invalid):
    """The body is not the JSON the route expects. `malformed`: not JSON at all."""

    def __init__(self, errors: list[dict[str, Any]], *, malformed: bool = False) -> None:
        super().__init__("invalid body")
        self.errors = errors
        self.malformed = malformed


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # {"amount":1,"amount":7} would otherwise be charged 7: refuse the ambiguity.
        raise ValueError("duplicate key in a JSON object")
    return obj


def parse_json(text: str) -> Any:
    """json.loads that turns NaN/Infinity, duplicate keys and deep nesting into ordinary decode errors."""
    try:
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise json.JSONDecodeError("nesting too deep", text, 0) from None
    except ValueError as error:
        if isinstance(error, json.JSONDecodeError):
            raise
        raise json.JSONDecodeError(str(error), text, 0) from None


def parse_body(model: type[ModelT], text: str | None) -> ModelT:
    """The body validated by a strict pydantic model; inputs are never echoed back (they may hold card data).

    Done here rather than by Powertools' validation middleware, whose import alone costs ~50 ms of cold
    start and which validates a JSON array by its first element.
    """
    if not text:
        raise InvalidBody([{"loc": ["body"], "msg": "A JSON body is required"}])
    try:
        data = parse_json(text)
    except json.JSONDecodeError:
        raise InvalidBody([{"loc": ["body"], "msg": "The body is not valid JSON"}], malformed=True) from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        names = _declared_names(model)
        issues = [
            {"loc": ["body", *_locations(e["loc"], names, data)], "msg": _message(e["type"], e["msg"], e["loc"])}
            for e in error.errors(include_input=False, include_url=False)
        ]
        raise InvalidBody(issues) from None


# Error types whose message pydantic builds from the schema alone (limits, patterns, types), never
# from the input; any other message (a tag, a custom validator's text) may quote it, so it is replaced.
_SCHEMA_ONLY_MESSAGES = frozenset(
    {
        "missing",
        "extra_forbidden",
        "int_type",
        "string_type",
        "dict_type",
        "model_type",
        "model_attributes_type",
        "greater_than_equal",
        "less_than_equal",
        "string_too_short",
        "string_too_long",
        "string_pattern_mismatch",
        "too_long",
        "too_short",
        "literal_error",  # lists our allowed values (a refund's reasons), never the input
        "enum",
    }
)
# Our own messages where pydantic's would name an internal class or say too little.
_OBJECT_EXPECTED = "Input should be a JSON object"
_MESSAGES_BY_FIELD = {
    "currency": "Must be an upper-case ISO 4217 code with a minor unit; the accepted codes are the OpenAPI "
    "document's currency enum",
}


def _declared_names(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(model.model_fields) | {"[key]"}  # pydantic's marker for "a dict key itself"


def _locations(loc: tuple[str | int, ...], declared: frozenset[str], data: Any) -> list[str | int]:
    """The error's location as the schema names it. A name the client chose (an unknown field, a
    metadata key: a card number sent as one came back before) is never repeated: it becomes its
    position in its object, "[field 3]" for the third member."""
    steps: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(part, int) or part in declared:
            steps.append(part)
        else:
            members = list(node) if isinstance(node, dict) else []
            steps.append(f"[field {members.index(part) + 1}]" if part in members else "[field]")
        node = _child(node, part)
    return steps


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _message(error_type: str, message: str, loc: tuple[str | int, ...]) -> str:
    if error_type in ("model_type", "model_attributes_type", "dict_type"):
        return _OBJECT_EXPECTED
    if loc and loc[-1] in _MESSAGES_BY_FIELD and error_type in ("value_error", "string_pattern_mismatch"):
        return _MESSAGES_BY_FIELD[str(loc[-1])]
    return message if error_type in _SCHEMA_ONLY_MESSAGES else "Invalid value"
