"""A completion without a transaction (IDEMPOTENCY_COMPLETION=sequential), for tables that cannot run one
(DynamoDB global tables in multi-Region strong consistency: docs/multi-region.md).

1. Decide: one conditional UpdateItem on the key, fenced by its owner, sets it COMPLETING with the result
   and the business writes to apply. Before it nothing happened; after it the outcome is fixed.
2. Apply each business write as its own conditional write. Each leaves the key's record id in the item's
   `applied_by` set, so a write whose condition fails is "already applied" exactly when it carries that mark.
3. Mark the key COMPLETED.

A key left COMPLETING (the owner died, or lost an answer) is finished by whoever meets it next: the store
rolls it forward on every read and every refused condition, and it stays in the recovery index (the
reconciler's) until step 3. Ids are derived from the key's reference, so no write lands twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..idempotency.errors import IdempotencyError
from ..idempotency.records import Status
from ..idempotency.store import StoreUnavailable, WriteRejected
from .errors import error_code, unavailable_as

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

APPLIED_BY = "applied_by"  # on a business item: the record ids whose sequential completion wrote it
WRITES = "completion_writes"  # on a COMPLETING key: the writes still to apply, as DynamoDB's own JSON

_NAMES = {
    "#s": "status",
    "#o": "owner",
    "#res": "result",
    "#cw": WRITES,
    "#lease": "lease_expires_at_ms",
    "#ub": "unresolved_bucket",
    "#ua": "unresolved_at",
    "#us": "unknown_since",
    "#att": "reconcile_attempts",
}
_INDEX = "#ub, #ua, #us, #att"  # the recovery index's attributes: gone once the key is finished


class _Rejected(IdempotencyError):
    """A business write's condition failed and the item does not carry this completion's mark (a signal
    caught in this module, never raised past it)."""

    def __init__(self, position: int) -> None:
        super().__init__(f"business write {position} rejected")
        self.position = position


def marked(entry: dict[str, Any], record_id: str) -> dict[str, Any]:
    """A TransactWriteItems entry made a standalone write that leaves `record_id` in the item's APPLIED_BY."""
    if "Put" in entry:
        put = dict(entry["Put"])
        put["Item"] = {**put["Item"], APPLIED_BY: {"SS": [record_id]}}
        return {"Put": put}
    update = dict(entry["Update"])
    update["UpdateExpression"] = f"{update['UpdateExpression']} ADD #applied_by :applied_by"
    update["ExpressionAttributeNames"] = {**update.get("ExpressionAttributeNames", {}), "#applied_by": APPLIED_BY}
    update["ExpressionAttributeValues"] = {
        **update.get("ExpressionAttributeValues", {}),
        ":applied_by": {"SS": [record_id]},
    }
    return {"Update": update}


class SequentialCompletion:
    def __init__(self, client: Callable[[], DynamoDBClient], table_name: str) -> None:
        self._client = client
        self._table = table_name

    def decide(self, record_id: str, owner: str, result: str, entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
        """Step 1, as a conditional UpdateItem request (the store sends it, and reads a refusal as a conflict).
        The recovery index's attributes stay: a key that dies COMPLETING is found like one that dies in progress."""
        writes = [marked(entry, record_id) for entry in entries]
        return {
            "TableName": self._table,
            "Key": {"id": {"S": record_id}},
            "UpdateExpression": "SET #s = :completing, #res = :result, #cw = :writes",
            "ConditionExpression": "#s = :in_progress AND #o = :owner",
            "ExpressionAttributeNames": {k: _NAMES[k] for k in ("#s", "#res", "#cw", "#o")},
            "ExpressionAttributeValues": {
                ":completing": {"S": Status.COMPLETING.value},
                ":in_progress": {"S": Status.IN_PROGRESS.value},
                ":owner": {"S": owner},
                ":result": {"S": result},
                # A JSON string: the requests exactly as they will be sent, one attribute, read back whole.
                ":writes": {"S": json.dumps(writes, separators=(",", ":"))},
            },
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def finish(self, item: dict[str, Any], writes: Sequence[object] = (), *, by_owner: bool = False) -> dict[str, Any]:
        """Steps 2 and 3 for a COMPLETING key item; returns the key item as it is after.

        A write refused (and not by its own earlier application) undoes the decision: by the owner, back to in
        progress and WriteRejected (the engine gives the key back as the completion asked); by anyone else,
        released as unknown (still in the recovery index), so a retry or the reconciler runs it again and
        meets the refusal itself. StoreUnavailable if a call fails transiently: the key stays COMPLETING."""
        record_id, owner = item["id"]["S"], item["owner"]["S"]
        try:
            for position, write in enumerate(json.loads(item[WRITES]["S"])):
                self._apply(write, record_id, position)
        except _Rejected as rejected:
            if by_owner:
                self._move(record_id, owner, "SET #s = :in_progress REMOVE #res, #cw")
                raise WriteRejected(writes[rejected.position] if writes else rejected) from None
            return self._move(record_id, owner, "SET #s = :released REMOVE #res, #cw, #o, #lease")
        # Step 3. Refused means someone finished it first: the item as it is now is the answer either way.
        return self._move(record_id, owner, f"SET #s = :completed REMOVE #cw, #lease, {_INDEX}")

    def _apply(self, write: dict[str, Any], record_id: str, position: int) -> None:
        kind, request = next(iter(write.items()))
        try:
            self._call(
                "put_item" if kind == "Put" else "update_item", **request, ReturnValuesOnConditionCheckFailure="ALL_OLD"
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            done = error.response.get("Item", {}).get(APPLIED_BY, {}).get("SS", [])
            if record_id not in done:
                raise _Rejected(position) from None

    def _move(self, record_id: str, owner: str, update: str) -> dict[str, Any]:
        """A conditional UpdateItem of a key still COMPLETING under `owner`: the item after it, or, refused,
        the item as someone else left it."""
        condition = "#s = :completing AND #o = :owner"
        used = set(re.findall(r"[#:]\w+", f"{update} {condition}"))
        values = {
            ":completing": {"S": Status.COMPLETING.value},
            ":completed": {"S": Status.COMPLETED.value},
            ":in_progress": {"S": Status.IN_PROGRESS.value},
            ":released": {"S": Status.RELEASED.value},
            ":owner": {"S": owner},
        }
        try:
            response = self._call(
                "update_item",
                TableName=self._table,
                Key={"id": {"S": record_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={k: v for k, v in _NAMES.items() if k in used},
                ExpressionAttributeValues={k: v for k, v in values.items() if k in used},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            return dict(error.response.get("Item") or {})
        return dict(response.get("Attributes") or {})

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        with unavailable_as(StoreUnavailable):
            response: dict[str, Any] = getattr(self._client(), operation)(**kwargs)
        return response
