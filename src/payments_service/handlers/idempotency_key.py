"""The Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.errors import Invalid
from ..idempotency.keys import InvalidKey, validate_key
from .headers import header_values

HEADER = "Idempotency-Key"


class MissingKey(Invalid):
    """No Idempotency-Key header."""


def _parse_one(raw: str) -> str:
    value = raw.strip(" \t")
    # The structured-field string form "abc"; a bare token is accepted too.
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    return validate_key(value)


def parse_key(event: Mapping[str, Any]) -> str:
    """The request's single idempotency key, or MissingKey / InvalidKey."""
    keys = {_parse_one(raw) for raw in header_values(event, HEADER)}
    if not keys:
        raise MissingKey("The Idempotency-Key header is required")
    if len(keys) > 1:
        raise InvalidKey("Idempotency-Key was sent more than once with different values")
    return keys.pop()
