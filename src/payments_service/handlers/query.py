"""List query parameters (`limit`, `starting_after`) from an API Gateway REST event."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..domain.errors import Invalid
from ..domain.pages import DEFAULT_PAGE, MAX_PAGE

_DIGITS = re.compile(r"[0-9]{1,3}")


class InvalidQuery(Invalid):
    """The list query does not match its schema (`errors` says where, never echoing what was sent)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid query")
        self.errors = errors


def _values(event: Mapping[str, Any], name: str) -> set[str]:
    single = (event.get("queryStringParameters") or {}).get(name)
    multi = (event.get("multiValueQueryStringParameters") or {}).get(name) or []
    return {v for v in [single, *multi] if isinstance(v, str)}


def _one(event: Mapping[str, Any], name: str) -> str | None:
    values = _values(event, name)
    if len(values) > 1:
        raise InvalidQuery([{"loc": ["query", name], "msg": "Given more than once with different values"}])
    return values.pop() if values else None


KNOWN = frozenset({"limit", "starting_after"})


def list_query(event: Mapping[str, Any]) -> tuple[int, str | None]:
    """(limit, starting_after); the cursor is checked where it is decoded. Unknown parameters are refused,
    as unknown body fields are: a misspelt `limt` must not silently give the default page."""
    sent = set(event.get("queryStringParameters") or {}) | set(event.get("multiValueQueryStringParameters") or {})
    if sent - KNOWN:
        # The names are the client's own: never echoed.
        raise InvalidQuery([{"loc": ["query", "*"], "msg": "Only limit and starting_after are accepted"}])
    raw_limit = _one(event, "limit")
    limit = DEFAULT_PAGE
    if raw_limit is not None:
        # Digits only: no signs, spaces, exponents or floats slip through int().
        if not _DIGITS.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= MAX_PAGE:
            raise InvalidQuery([{"loc": ["query", "limit"], "msg": f"An integer from 1 to {MAX_PAGE}"}])
        limit = int(raw_limit)
    return limit, _one(event, "starting_after") or None  # empty: the first page, as documented
