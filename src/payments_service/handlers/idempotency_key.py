"""The idempotency key at the transport: the Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header),
a queue message's key attribute, the "sent twice" case, and the hash logs carry instead of the key.
Handlers reach the key only through this module; the rules a key obeys stay in idempotency/keys.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.errors import Invalid
from ..idempotency.keys import InvalidKey, record_id, validate_key
from .headers import header_values

HEADER = "Idempotency-Key"

__all__ = ["HEADER", "InvalidKey", "MissingKey", "key_hash", "message_key", "parse_key"]


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


def message_key(value: str) -> str:
    """A queue message's key attribute, as the header's would be (InvalidKey if malformed)."""
    return validate_key(value)


def key_hash(scope: str, key: str) -> str:
    """What logs carry for a key: its stored id, so a log line finds the key's item and never shows the key."""
    return record_id(scope, key)
