"""What an idempotency key may be, and how a key is scoped to its client. Transports read the raw value."""

from __future__ import annotations

import hashlib
import re

from .errors import IdempotencyError

MAX_LENGTH = 255  # Stripe's limit
# Visible ASCII without space, quote or backslash: no escaping games, nothing a log line could mangle.
KEY_PATTERN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,255}$")


class InvalidKey(IdempotencyError):
    """The key is malformed or too long (or, in a transport, sent twice with different values): final."""


def validate_key(value: str) -> str:
    if not KEY_PATTERN.fullmatch(value):  # `$` in match() would let a final newline through
        raise InvalidKey(
            f"Idempotency-Key must be 1 to {MAX_LENGTH} visible ASCII characters "
            "without spaces, quotes or backslashes, optionally in double quotes"
        )
    return value


def record_id(scope: str, key: str) -> str:
    """The stored id of a key: hashed with its scope, so clients never share or see each other's keys."""
    return hashlib.sha256(f"{len(scope)}:{scope}|{key}".encode()).hexdigest()
