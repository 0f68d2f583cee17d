"""The idempotency store on DynamoDB: one item per scoped key, every write conditional."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from ..idempotency.records import IdempotencyRecord, Status
from ..idempotency.store import RecordConflict, StoreUnavailable, WriteRejected
from .errors import error_code, is_transient
from .sequential_completion import SequentialCompletion

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Turns a typed business write into one TransactWriteItems entry (see dal/business_writes.py).
Translate = Callable[[object], dict[str, Any]]

# The sparse recovery index: only items whose outcome is unknown carry these two attributes (set at
# claim, takeover and release, removed on completion), so the GSI holds exactly the unresolved keys.
# The partition is one of a few shards, so claims never all write one GSI partition; a parked key sits
# in a partition of its own (out of every run's batch, still counted). The sort key `unresolved_at` is
# the key's place in line: when it became unknown, or when a recovery last looked at it, so a key no run
# can resolve goes to the back instead of filling every batch. Its first-unknown time (its age, for an
# operator) is `unknown_since`, on the item only (the index projects keys only).
UNRESOLVED_INDEX = "UnresolvedIndex"
UNRESOLVED_SHARDS = 8
PARKED_BUCKET = "parked"

_NAMES = {
    "#id": "id",
    "#s": "status",
    "#fp": "fingerprint",
    "#ref": "processor_ref",
    "#exp": "expires_at",
    "#o": "owner",
    "#lease": "lease_expires_at_ms",
    "#res": "result",
    "#ub": "unresolved_bucket",
    "#ua": "unresolved_at",
    "#us": "unknown_since",
    "#att": "reconcile_attempts",
}


def _shard(record_id: str) -> str:
    return str(int(record_id[:8], 16) % UNRESOLVED_SHARDS)


def _unresolved(record_id: str, since_ms: int) -> dict[str, Any]:
    return {"unresolved_bucket": {"S": _shard(record_id)}, "unresolved_at": {"N": str(since_ms)}}


def _names(expression: str) -> dict[str, str]:
    return {k: v for k, v in _NAMES.items() if k in expression}


def to_item(record: IdempotencyRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": {"S": record.record_id},
        "status": {"S": record.status.value},
        "fingerprint": {"S": record.fingerprint},
        "processor_ref": {"S": record.reference},
        "expires_at": {"N": str(record.expires_at)},
    }
    if record.reference_created_at_ms is not None:
        item["reference_created_at_ms"] = {"N": str(record.reference_created_at_ms)}
    if record.operation:
        item["operation"] = {"S": record.operation}
    if record.payload:
        item["payload"] = {"S": record.payload}
    if record.scope:
        item["scope"] = {"S": record.scope}
    if record.owner is not None:
        item["owner"] = {"S": record.owner}
    if record.lease_expires_at_ms is not None:
        item["lease_expires_at_ms"] = {"N": str(record.lease_expires_at_ms)}
    if record.result is not None:
        item["result"] = {"S": record.result}
    return item


def from_item(item: dict[str, Any] | None) -> IdempotencyRecord | None:
    if not item:
        return None
    lease = item.get("lease_expires_at_ms")
    minted = item.get("reference_created_at_ms")
    in_line = item.get("unresolved_at")
    unknown_since = item.get("unknown_since") or in_line  # never looked at by a recovery: in line since unknown
    attempts = item.get("reconcile_attempts")
    return IdempotencyRecord(
        record_id=item["id"]["S"],
        status=Status(item["status"]["S"]),
        fingerprint=item["fingerprint"]["S"],
        reference=item["processor_ref"]["S"],
        reference_created_at_ms=int(minted["N"]) if minted else None,
        expires_at=int(item["expires_at"]["N"]),
        operation=item.get("operation", {}).get("S", ""),
        payload=item.get("payload", {}).get("S", ""),
        scope=item.get("scope", {}).get("S", ""),
        owner=item.get("owner", {}).get("S"),
        lease_expires_at_ms=int(lease["N"]) if lease else None,
        result=item.get("result", {}).get("S"),
        unknown_since_ms=int(unknown_since["N"]) if unknown_since else None,
        reconcile_attempts=int(attempts["N"]) if attempts and in_line else 0,
        parked=item.get("unresolved_bucket", {}).get("S") == PARKED_BUCKET,
    )


def _no_business_writes(write: object) -> dict[str, Any]:
    raise TypeError(f"this store cannot write {type(write).__name__}")


class DynamoDBIdempotencyStore:
    def __init__(
        self,
        client: Callable[[], DynamoDBClient],
        table_name: str,
        translate: Translate = _no_business_writes,
        completion: Literal["transaction", "sequential"] = "transaction",
    ) -> None:
        """completion: how business writes commit with the result — one TransactWriteItems, or one write at a
        time behind a decision on the key (dal/sequential_completion.py) where transactions are unavailable."""
        self._client = client  # a factory: the client is built on first use
        self._table = table_name
        self._translate = translate
        self._sequential = SequentialCompletion(client, table_name) if completion == "sequential" else None
        # Whatever the mode, a key some sequential completion left COMPLETING is finished by whoever meets it.
        self._finisher = self._sequential or SequentialCompletion(client, table_name)

    def get(self, record_id: str) -> IdempotencyRecord | None:
        response = self._call("get_item", TableName=self._table, Key={"id": {"S": record_id}}, ConsistentRead=True)
        return from_item(self._finished(response.get("Item")))

    def put_new(self, record: IdempotencyRecord, now_ms: int) -> None:
        # Live means present and within retention: TTL deletes lazily, so expiry is in the condition. A key
        # decided but not finished is never claimed afresh, however old: its writes would be lost.
        condition = "attribute_not_exists(#id) OR (#exp < :now_s AND #s <> :completing)"
        self._call(
            "put_item",
            TableName=self._table,
            Item=to_item(record) | _unresolved(record.record_id, record.lease_expires_at_ms or now_ms),
            ConditionExpression=condition,
            ExpressionAttributeNames=_names(condition),
            ExpressionAttributeValues={
                ":now_s": {"N": str(now_ms // 1000)},
                ":completing": {"S": Status.COMPLETING.value},
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def take_over(
        self, existing: IdempotencyRecord, owner: str, lease_expires_at_ms: int, now_ms: int, expires_at: int
    ) -> None:
        # An UpdateItem, not a put: the reference must survive the takeover. Retention restarts, so the
        # key cannot expire (and be claimed afresh, under a new reference) while this owner works.
        update = "SET #s = :in_progress, #o = :owner, #lease = :lease, #exp = :exp, #ub = :ub, #ua = :lease"
        condition = (
            "#fp = :fp AND #ref = :ref AND #exp >= :now_s"
            " AND (#s = :released OR (#s = :in_progress AND #lease <= :now_ms))"
        )
        values = {
            ":in_progress": Status.IN_PROGRESS.value,
            ":released": Status.RELEASED.value,
            ":owner": owner,
            ":lease": lease_expires_at_ms,
            ":exp": expires_at,
            ":ub": _shard(existing.record_id),
            ":fp": existing.fingerprint,
            ":ref": existing.reference,
            ":now_s": now_ms // 1000,
            ":now_ms": now_ms,
        }
        self._call("update_item", **self._update(existing.record_id, update, condition, values))

    def complete(self, record_id: str, owner: str, result: str, writes: Sequence[object]) -> None:
        update = "SET #s = :completed, #res = :result REMOVE #lease, #ub, #ua, #us, #att"
        condition = "#s = :in_progress AND #o = :owner"
        values = {
            ":completed": Status.COMPLETED.value,
            ":in_progress": Status.IN_PROGRESS.value,
            ":owner": owner,
            ":result": result,
        }
        mark_completed = self._update(record_id, update, condition, values)
        if not writes:
            self._call("update_item", **mark_completed)
            return
        if self._sequential is not None:
            self._complete_in_sequence(self._sequential, record_id, owner, result, writes)
            return
        # One transaction: the business writes and the recorded result commit together or not at all.
        # The owner token doubles as the request token, so botocore's retries cannot apply it twice.
        self._call(
            "transact_write_items",
            TransactItems=[*(self._translate(w) for w in writes), {"Update": mark_completed}],
            ClientRequestToken=owner,
            business_writes=writes,
        )

    def _complete_in_sequence(
        self, sequence: SequentialCompletion, record_id: str, owner: str, result: str, writes: Sequence[object]
    ) -> None:
        decided = self._call("update_item", **sequence.decide(record_id, owner, result, map(self._translate, writes)))
        after = sequence.finish(decided["Attributes"], writes, by_owner=True)
        if after.get("status", {}).get("S") != Status.COMPLETED.value:
            raise RecordConflict(from_item(after))  # released by a reader who met a refused write first

    def _finished(self, item: dict[str, Any] | None) -> dict[str, Any] | None:
        """The item, rolled forward first if a sequential completion left it COMPLETING."""
        if item and item.get("status", {}).get("S") == Status.COMPLETING.value:
            return self._finisher.finish(item) or None
        return item

    def release(
        self,
        record_id: str,
        owner: str,
        unknown_since_ms: int | None = None,
        *,
        looked_at_ms: int | None = None,
        attempts: int | None = None,
        parked: bool = False,
    ) -> None:
        values: dict[str, object] = {
            ":released": Status.RELEASED.value,
            ":in_progress": Status.IN_PROGRESS.value,
            ":owner": owner,
        }
        if unknown_since_ms is None:
            update = "SET #s = :released REMOVE #o, #lease, #ub, #ua, #us, #att"
        else:
            update = "SET #s = :released, #ub = :ub, #ua = :in_line, #us = :since"
            values |= {
                ":ub": PARKED_BUCKET if parked else _shard(record_id),
                ":in_line": looked_at_ms if looked_at_ms is not None else unknown_since_ms,
                ":since": unknown_since_ms,
            }
            if attempts is not None:
                update += ", #att = :att"
                values[":att"] = attempts
            update += " REMOVE #o, #lease"
        condition = "#s = :in_progress AND #o = :owner"
        self._call("update_item", **self._update(record_id, update, condition, values))

    def unresolved(self, in_line_before_ms: int, limit: int) -> list[str]:
        # Each shard's longest-waiting `limit`, merged: the longest-waiting `limit` overall, for 8 small queries.
        found: list[tuple[int, str]] = []
        for shard in range(UNRESOLVED_SHARDS):
            for item in self._query_shard(str(shard), in_line_before_ms, limit=limit):
                found.append((int(item["unresolved_at"]["N"]), item["id"]["S"]))
        return [rid for _, rid in sorted(found)[:limit]]

    def count_unresolved(self, in_line_before_ms: int, cap: int) -> int:
        total = 0
        for shard in range(UNRESOLVED_SHARDS):
            total += self._query_shard(str(shard), in_line_before_ms, count_up_to=cap - total)
            if total >= cap:
                return cap
        return total

    def count_parked(self, cap: int) -> int:
        count: int = self._query_shard(PARKED_BUCKET, 2**62, count_up_to=cap)
        return min(count, cap)

    def _query_shard(self, shard: str, before_ms: int, *, limit: int = 0, count_up_to: int = 0) -> Any:
        """Items of one shard unknown since before `before_ms` (oldest first, up to `limit`), or their count."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": UNRESOLVED_INDEX,
            "KeyConditionExpression": "#ub = :ub AND #ua <= :before",
            "ExpressionAttributeNames": {"#ub": "unresolved_bucket", "#ua": "unresolved_at"},
            "ExpressionAttributeValues": {":ub": {"S": shard}, ":before": {"N": str(before_ms)}},
        }
        if count_up_to:
            kwargs["Select"] = "COUNT"
        items: list[dict[str, Any]] = []
        count = 0
        while True:
            if limit:
                kwargs["Limit"] = limit - len(items)
            page = self._call("query", **kwargs)
            items.extend(page.get("Items", []))
            count += int(page.get("Count", 0))
            done = (limit and len(items) >= limit) or (count_up_to and count >= count_up_to)
            if done or "LastEvaluatedKey" not in page:
                return count if count_up_to else items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def forget(self, record_id: str, owner: str) -> None:
        condition = "#s = :in_progress AND #o = :owner"
        self._call(
            "delete_item",
            TableName=self._table,
            Key={"id": {"S": record_id}},
            ConditionExpression=condition,
            ExpressionAttributeNames=_names(condition),
            ExpressionAttributeValues={":in_progress": {"S": Status.IN_PROGRESS.value}, ":owner": {"S": owner}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def _update(self, record_id: str, update: str, condition: str, values: Mapping[str, object]) -> dict[str, Any]:
        """A conditional UpdateItem of one key that returns the item when its condition fails."""
        return {
            "TableName": self._table,
            "Key": {"id": {"S": record_id}},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": _names(update + condition),
            "ExpressionAttributeValues": {
                name: {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
                for name, value in values.items()
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _call(self, operation: str, business_writes: Sequence[object] = (), **kwargs: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self._client(), operation)(**kwargs)
            return response
        except ClientError as error:
            code = error_code(error)
            if code == "ConditionalCheckFailedException":
                raise RecordConflict(from_item(self._finished(error.response.get("Item")))) from None
            if code == "TransactionCanceledException":
                _raise_cancellation(error, business_writes)
            if is_transient(error):
                raise StoreUnavailable(code) from error
            raise
        except BotoCoreError as error:
            if is_transient(error):
                raise StoreUnavailable(type(error).__name__) from error
            raise


def _raise_cancellation(error: ClientError, business_writes: Sequence[object]) -> None:
    """Read every cancellation reason: the key's own entry (last) fences; a business entry is rejected."""
    reasons = error.response.get("CancellationReasons") or []
    if len(reasons) != len(business_writes) + 1:
        return  # not a shape we know: treated as any other error by the caller
    mine = reasons[-1]
    if mine.get("Code") == "ConditionalCheckFailed":
        raise RecordConflict(from_item(mine.get("Item"))) from None
    for write, reason in zip(business_writes, reasons, strict=False):
        if reason.get("Code") == "ConditionalCheckFailed":
            raise WriteRejected(write) from None
