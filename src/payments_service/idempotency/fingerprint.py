"""A request's fingerprint: what makes two requests under one key 'the same'."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Key order and whitespace do not matter; the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(operation: str, canonical_payload: str) -> str:
    """SHA-256 over the operation's name and its canonical input."""
    return hashlib.sha256(f"{operation}\n{canonical_payload}".encode()).hexdigest()
