"""Reading the Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

HEADER = "idempotency-key"
MAX_LENGTH = 255  # Stripe's limit
# Visible ASCII without space, quote or backslash: no escaping games, nothing a log line could mangle.
_KEY_CHARS = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,255}$")


class MissingKey(Exception):
    """No Idempotency-Key header."""


class InvalidKey(Exception):
    """The header is malformed, too long, or sent twice with different values."""


def _header_values(headers: Mapping[str, Any] | None, multi: Mapping[str, Any] | None) -> Iterable[str]:
    # REST API events keep the client's casing and may carry repeats only in multiValueHeaders.
    for name, value in (headers or {}).items():
        if name.lower() == HEADER and isinstance(value, str):
            yield value
    for name, values in (multi or {}).items():
        if name.lower() == HEADER and isinstance(values, list):
            yield from (v for v in values if isinstance(v, str))


def _parse_one(raw: str) -> str:
    value = raw.strip(" \t")
    # The structured-field string form "abc"; a bare token is accepted too.
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    if not _KEY_CHARS.fullmatch(value):  # `$` in match() would let a final newline through
        raise InvalidKey(
            f"Idempotency-Key must be 1 to {MAX_LENGTH} visible ASCII characters "
            "without spaces, quotes or backslashes, optionally in double quotes"
        )
    return value


def parse_key(headers: Mapping[str, Any] | None, multi_value_headers: Mapping[str, Any] | None) -> str:
    """Return the single idempotency key of a request, or raise MissingKey / InvalidKey."""
    keys = {_parse_one(raw) for raw in _header_values(headers, multi_value_headers)}
    if not keys:
        raise MissingKey("The Idempotency-Key header is required")
    if len(keys) > 1:
        raise InvalidKey("Idempotency-Key was sent more than once with different values")
    return keys.pop()


def record_id(scope: str, key: str) -> str:
    """The stored id of a key: hashed with its scope, so clients never share or see each other's keys."""
    return hashlib.sha256(f"{len(scope)}:{scope}|{key}".encode()).hexdigest()
