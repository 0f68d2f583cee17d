"""The key sweeper's DynamoDB access (idempotency/expiry.py): scan pages, conditional deletes, and its cursor.

Needs, on the keys table only: Scan, DeleteItem, and GetItem and PutItem of the cursor's own item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..idempotency.expiry import DELETABLE_WHEN_EXPIRED, ExpiredKey, ExpiredPage, Position, SweepCursor
from ..idempotency.store import StoreUnavailable
from .errors import error_code, unavailable_as

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The cursor lives in the keys table itself, under an id no key can have: a key's id is a SHA-256 hex digest
# (idempotency/keys.py, record_id), and '#', '-' and the letters past 'f' are not hex. It has no `expires_at`
# (TTL, the sweep's filter and every claim's condition pass it by), no status and no recovery-index attributes
# (the reconciler never sees it), and nothing reads it by a merchant's key.
CURSOR_ID = "#key-sweeper-cursor"

_EXPIRED = "#exp < :now_s"
# The delete's condition: the rule of idempotency/expiry.py, checked again at the moment of the delete.
_DELETABLE = _EXPIRED + " AND #s IN (" + ", ".join(f":s{i}" for i in range(len(DELETABLE_WHEN_EXPIRED))) + ")"
_STATUSES = {f":s{i}": {"S": status} for i, status in enumerate(sorted(DELETABLE_WHEN_EXPIRED))}


class DynamoDBExpiredKeys:
    def __init__(self, client: Callable[[], DynamoDBClient], table_name: str) -> None:
        self._client = client  # a factory: the client is built on first use
        self._table = table_name

    def read_cursor(self) -> SweepCursor:
        item = self._call("get_item", TableName=self._table, Key=_cursor_key(), ConsistentRead=True).get("Item")
        if not item:
            return SweepCursor(start=None, version=0)
        start = item.get("start", {}).get("M")
        return SweepCursor(start=start or None, version=int(item["version"]["N"]))

    def expired_page(self, start: Position | None, now_s: int, limit: int) -> ExpiredPage:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Limit": limit,  # items read, expired or not: the page's cost is bounded, not its yield
            "FilterExpression": _EXPIRED,
            "ProjectionExpression": "#id, #s",
            "ExpressionAttributeNames": {"#id": "id", "#s": "status", "#exp": "expires_at"},
            "ExpressionAttributeValues": {":now_s": {"N": str(now_s)}},
        }
        if start is not None:
            kwargs["ExclusiveStartKey"] = dict(start)
        page = self._call("scan", **kwargs)
        keys = tuple(
            ExpiredKey(item["id"]["S"], item.get("status", {}).get("S", ""))
            for item in page.get("Items", [])
            if item["id"]["S"] != CURSOR_ID  # never matches the filter (no expiry); never a key either way
        )
        return ExpiredPage(keys, page.get("LastEvaluatedKey") or None)

    def delete_expired(self, record_id: str, now_s: int) -> bool:
        return self._conditional(
            "delete_item",
            TableName=self._table,
            Key={"id": {"S": record_id}},
            ConditionExpression=_DELETABLE,
            ExpressionAttributeNames={"#exp": "expires_at", "#s": "status"},
            ExpressionAttributeValues={":now_s": {"N": str(now_s)}} | _STATUSES,
        )

    def move_cursor(self, cursor: SweepCursor, start: Position | None, now_ms: int) -> SweepCursor | None:
        moved = SweepCursor(start=start, version=cursor.version + 1)
        item: dict[str, Any] = {
            "id": {"S": CURSOR_ID},
            "version": {"N": str(moved.version)},
            "moved_at_ms": {"N": str(now_ms)},
        }
        if start is not None:
            item["start"] = {"M": dict(start)}
        # Fenced by the version read at the run's start: of two overlapping runs, only one moves it.
        if cursor.version == 0:
            condition, values = "attribute_not_exists(#id)", {}
        else:
            condition, values = "#v = :v", {":v": {"N": str(cursor.version)}}
        written = self._conditional(
            "put_item",
            TableName=self._table,
            Item=item,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#id": "id"} if cursor.version == 0 else {"#v": "version"},
            **({"ExpressionAttributeValues": values} if values else {}),
        )
        return moved if written else None

    def _conditional(self, operation: str, **kwargs: Any) -> bool:
        """A conditional write: True if applied, False if its condition failed."""
        try:
            self._call(operation, **kwargs)
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        with unavailable_as(StoreUnavailable):
            response: dict[str, Any] = getattr(self._client(), operation)(**kwargs)
        return response


def _cursor_key() -> dict[str, Any]:
    return {"id": {"S": CURSOR_ID}}
