"""The idempotency store on DynamoDB: one item per scoped key, every write conditional."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..idempotency.records import IdempotencyRecord, Status
from ..idempotency.store import RecordConflict, StoreUnavailable, WriteRejected
from .errors import error_code, is_transient

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Turns a typed business write into one TransactWriteItems entry (see dal/business_writes.py).
Translate = Callable[[object], dict[str, Any]]

_NAMES = {
    "#id": "id",
    "#s": "status",
    "#fp": "fingerprint",
    "#ref": "processor_ref",
    "#exp": "expires_at",
    "#o": "owner",
    "#lease": "lease_expires_at_ms",
    "#res": "result",
}


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
    if record.operation:
        item["operation"] = {"S": record.operation}
    if record.payload:
        item["payload"] = {"S": record.payload}
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
    return IdempotencyRecord(
        record_id=item["id"]["S"],
        status=Status(item["status"]["S"]),
        fingerprint=item["fingerprint"]["S"],
        reference=item["processor_ref"]["S"],
        expires_at=int(item["expires_at"]["N"]),
        operation=item.get("operation", {}).get("S", ""),
        payload=item.get("payload", {}).get("S", ""),
        owner=item.get("owner", {}).get("S"),
        lease_expires_at_ms=int(lease["N"]) if lease else None,
        result=item.get("result", {}).get("S"),
    )


def _no_business_writes(write: object) -> dict[str, Any]:
    raise TypeError(f"this store cannot write {type(write).__name__}")


class DynamoDBIdempotencyStore:
    def __init__(
        self, client: Callable[[], DynamoDBClient], table_name: str, translate: Translate = _no_business_writes
    ) -> None:
        self._client = client  # a factory: the client is built on first use
        self._table = table_name
        self._translate = translate

    def get(self, record_id: str) -> IdempotencyRecord | None:
        response = self._call("get_item", TableName=self._table, Key={"id": {"S": record_id}}, ConsistentRead=True)
        return from_item(response.get("Item"))

    def put_new(self, record: IdempotencyRecord, now_ms: int) -> None:
        # Live means present and within retention: TTL deletes lazily, so expiry is in the condition.
        condition = "attribute_not_exists(#id) OR #exp < :now_s"
        self._call(
            "put_item",
            TableName=self._table,
            Item=to_item(record),
            ConditionExpression=condition,
            ExpressionAttributeNames=_names(condition),
            ExpressionAttributeValues={":now_s": {"N": str(now_ms // 1000)}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def take_over(
        self, existing: IdempotencyRecord, owner: str, lease_expires_at_ms: int, now_ms: int, expires_at: int
    ) -> None:
        # An UpdateItem, not a put: the reference must survive the takeover. Retention restarts, so the
        # key cannot expire (and be claimed afresh, under a new reference) while this owner works.
        update = "SET #s = :in_progress, #o = :owner, #lease = :lease, #exp = :exp"
        condition = (
            "#fp = :fp AND #ref = :ref AND #exp >= :now_s"
            " AND (#s = :released OR (#s = :in_progress AND #lease <= :now_ms))"
        )
        self._call(
            "update_item",
            TableName=self._table,
            Key={"id": {"S": existing.record_id}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=_names(update + condition),
            ExpressionAttributeValues={
                ":in_progress": {"S": Status.IN_PROGRESS.value},
                ":released": {"S": Status.RELEASED.value},
                ":owner": {"S": owner},
                ":lease": {"N": str(lease_expires_at_ms)},
                ":exp": {"N": str(expires_at)},
                ":fp": {"S": existing.fingerprint},
                ":ref": {"S": existing.reference},
                ":now_s": {"N": str(now_ms // 1000)},
                ":now_ms": {"N": str(now_ms)},
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def complete(self, record_id: str, owner: str, result: str, writes: Sequence[object]) -> None:
        update = "SET #s = :completed, #res = :result REMOVE #lease"
        condition = "#s = :in_progress AND #o = :owner"
        mark_completed: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"id": {"S": record_id}},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": _names(update + condition),
            "ExpressionAttributeValues": {
                ":completed": {"S": Status.COMPLETED.value},
                ":in_progress": {"S": Status.IN_PROGRESS.value},
                ":owner": {"S": owner},
                ":result": {"S": result},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if not writes:
            self._call("update_item", **mark_completed)
            return
        # One transaction: the business writes and the recorded result commit together or not at all.
        # The owner token doubles as the request token, so botocore's retries cannot apply it twice.
        self._call(
            "transact_write_items",
            TransactItems=[*(self._translate(w) for w in writes), {"Update": mark_completed}],
            ClientRequestToken=owner,
            business_writes=writes,
        )

    def release(self, record_id: str, owner: str) -> None:
        update = "SET #s = :released REMOVE #o, #lease"
        condition = "#s = :in_progress AND #o = :owner"
        self._call(
            "update_item",
            TableName=self._table,
            Key={"id": {"S": record_id}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=_names(update + condition),
            ExpressionAttributeValues={
                ":released": {"S": Status.RELEASED.value},
                ":in_progress": {"S": Status.IN_PROGRESS.value},
                ":owner": {"S": owner},
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

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

    def _call(self, operation: str, business_writes: Sequence[object] = (), **kwargs: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self._client(), operation)(**kwargs)
            return response
        except ClientError as error:
            code = error_code(error)
            if code == "ConditionalCheckFailedException":
                raise RecordConflict(from_item(error.response.get("Item"))) from None
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
