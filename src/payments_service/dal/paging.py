"""Paging through a Query: at most N items, and opaque list cursors.

Cursors are base64url of the next page's exclusive start key, checked field by field on the way back.

A cursor carries only the key attributes a client cannot choose to its advantage: the partition
(merchant or payment) always comes from the request itself, so a forged cursor can at most move
the starting point within the caller's own list. Anything malformed is InvalidCursor (a 400).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..domain.pages import InvalidCursor

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_CURSOR_CHARS = 512
RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def encode(fields: Mapping[str, str]) -> str:
    text = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str, shape: Mapping[str, re.Pattern[str]]) -> dict[str, str]:
    """The fields of `cursor`, each matching its pattern in `shape`, or InvalidCursor."""
    if not cursor or len(cursor) > MAX_CURSOR_CHARS or not re.fullmatch(r"[A-Za-z0-9_-]+", cursor):
        raise InvalidCursor("not a cursor")
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidCursor("not a cursor") from None
    if not isinstance(decoded, dict) or set(decoded) != set(shape):
        raise InvalidCursor("not a cursor of this list")
    for name, pattern in shape.items():
        value = decoded[name]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise InvalidCursor("not a cursor of this list")
    return decoded


def query_at_most(client: DynamoDBClient, query: dict[str, Any], wanted: int) -> list[dict[str, Any]]:
    """Up to `wanted` items, following LastEvaluatedKey when a page stops short (1 MB per page)."""
    items: list[dict[str, Any]] = []
    while len(items) < wanted:
        page = client.query(**query, Limit=wanted - len(items))
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            break
        query = {**query, "ExclusiveStartKey": page["LastEvaluatedKey"]}
    return items
