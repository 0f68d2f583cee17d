"""A request's fingerprint: what makes two requests under one key 'the same'."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(method: str, route: str, payload: Any) -> str:
    """SHA-256 over method, route and canonical JSON: key order and whitespace do not matter."""
    material = f"{method.upper()}\n{route}\n{canonical_json(payload)}"
    return hashlib.sha256(material.encode()).hexdigest()
