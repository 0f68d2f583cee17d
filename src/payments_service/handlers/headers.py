"""Reading headers from an API Gateway REST event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def header_values(event: Mapping[str, Any], name: str) -> list[str]:
    """Every value sent for `name` (case-insensitive). REST events keep the client's casing and carry
    repeats only in multiValueHeaders; the values of both are returned, deduplication is the caller's."""
    name = name.lower()
    values = [v for k, v in (event.get("headers") or {}).items() if k.lower() == name and isinstance(v, str)]
    for key, multi in (event.get("multiValueHeaders") or {}).items():
        if key.lower() == name and isinstance(multi, list):
            values += [v for v in multi if isinstance(v, str)]
    return values
