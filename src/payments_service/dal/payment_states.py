"""A payment's life after it was recorded (3-D Secure): forward-only moves and the follow-up index.

Every move is one conditional UpdateItem whose condition lists the states it may come from
(domain/lifecycle.py), so an event applied twice, or an old one applied late, changes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..domain.errors import PaymentsError
from ..domain.lifecycle import FollowUp, PaymentState, payment_sources
from ..domain.payments import PaymentsUnavailable
from .errors import error_code, unavailable_as
from .payments_table import AWAITING_INDEX, FOLLOW_UP_SHARDS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_FINAL = ("succeeded", "canceled")
# What only a payment awaiting its customer carries; a final move removes it (the client secret included).
_AWAITING_ONLY = "next_action, client_secret, awaiting_bucket, next_check_ms"


class DynamoDBPaymentStates:
    def __init__(self, client: Callable[[], DynamoDBClient], table_name: str) -> None:
        self._client = client
        self._table = table_name

    def move(self, payment_id: str, new: PaymentState, *, decline_code: str | None = None) -> bool:
        sources = payment_sources(new)
        if not sources:
            return False
        values: dict[str, Any] = {":new": {"S": new}} | {f":s{i}": {"S": s} for i, s in enumerate(sources)}
        update = "SET #s = :new"
        if decline_code is not None and new == "failed":
            update += ", decline_code = :dc"
            values[":dc"] = {"S": decline_code}
        if new in _FINAL:
            update += f" REMOVE {_AWAITING_ONLY}"
        condition = f"#s IN ({', '.join(f':s{i}' for i in range(len(sources)))})"
        return self._conditional(payment_id, update, condition, values)

    def check_later(self, payment_id: str, next_check_ms: int) -> None:
        self._conditional(
            payment_id,
            "SET next_check_ms = :next",
            "attribute_exists(next_check_ms)",  # a move to a final state removed it: nothing to follow up
            {":next": {"N": str(next_check_ms)}},
        )

    def awaiting(self, due_by_ms: int, limit: int) -> list[FollowUp]:
        found: list[FollowUp] = []
        for shard in range(FOLLOW_UP_SHARDS):
            query: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": AWAITING_INDEX,
                "KeyConditionExpression": "awaiting_bucket = :b AND next_check_ms <= :due",
                "ExpressionAttributeValues": {":b": {"S": str(shard)}, ":due": {"N": str(due_by_ms)}},
                "Limit": limit,
            }
            response = self._call(functools.partial(self._client().query, **query))
            for item in response.get("Items", []):
                pid = item["payment_id"]["S"]
                since = int(item.get("awaiting_since_ms", item["next_check_ms"])["N"])
                found.append(FollowUp(pid, pid, item["processor_payment_id"]["S"], since))
        return sorted(found, key=lambda f: f.since_ms)[:limit]

    def _conditional(self, payment_id: str, update: str, condition: str, values: dict[str, Any]) -> bool:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"payment_id": {"S": payment_id}},
            "UpdateExpression": update,
            "ConditionExpression": f"attribute_exists(payment_id) AND {condition}",
            "ExpressionAttributeValues": values,
        }
        if "#s" in update + condition:  # DynamoDB refuses an empty ExpressionAttributeNames
            request["ExpressionAttributeNames"] = {"#s": "status"}
        try:
            self._call(lambda: self._client().update_item(**request))
        except _Refused:
            return False
        return True

    @staticmethod
    def _call(call: Callable[[], Any]) -> Any:
        try:
            with unavailable_as(PaymentsUnavailable):
                return call()
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise _Refused() from None
            raise


class _Refused(PaymentsError):
    """A signal caught in this module, never raised past it.

    The move's condition failed: the payment is already there or further along (or absent)."""
