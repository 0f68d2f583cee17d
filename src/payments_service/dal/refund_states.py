"""A refund's life after the processor accepted it: forward-only moves, the give-back of a refund that
failed later, and the follow-up index of pending refunds.

No transaction: the give-back is one conditional write on the payment (its reservation settled ->
reversed, exactly once), and the refund's own move another; each is idempotent, so a crash between
them is finished by the next delivery of the event or the next reconciler run (the caller does the
give-back first, then the move: a refund shown failed has always been given back).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..domain.errors import PaymentsError
from ..domain.lifecycle import FollowUp, RefundState, refund_sources
from ..domain.refunds import RefundsUnavailable
from ..domain.stored_refunds import StoredRefund
from .errors import error_code, unavailable_as
from .payments_table import FOLLOW_UP_SHARDS, REVERSED, SETTLED
from .refunds_table import PENDING_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class _Refused(PaymentsError):
    """A signal caught in this module, never raised past it.

    A condition failed: already done, or not in a state it may move from."""


class DynamoDBRefundStates:
    def __init__(self, client: Callable[[], DynamoDBClient], refunds_table: str, payments_table: str) -> None:
        self._client = client
        self._refunds = refunds_table
        self._payments = payments_table

    def move(self, refund: StoredRefund, new: RefundState, *, failure_reason: str | None = None) -> bool:
        sources = refund_sources(new)
        if not sources:
            return False
        values: dict[str, Any] = {":new": {"S": new}} | {f":s{i}": {"S": s} for i, s in enumerate(sources)}
        update = "SET #s = :new"
        if failure_reason is not None:
            update += ", failure_reason = :why"
            values[":why"] = {"S": failure_reason}
        if new != "pending":
            update += " REMOVE pending_bucket, next_check_ms"
        condition = f"attribute_exists(refund_id) AND #s IN ({', '.join(f':s{i}' for i in range(len(sources)))})"
        return self._update(
            TableName=self._refunds,
            Key=_key(refund),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values,
        )

    def give_back(self, refund: StoredRefund) -> bool:
        # The reservation keeps its entry (state reversed): the reference can never be reserved again.
        return self._update(
            TableName=self._payments,
            Key={"payment_id": {"S": refund.payment_id}},
            UpdateExpression="SET #refd = #refd - :a, #avail = #avail + :a, #rsv.#ref.#st = :reversed",
            ConditionExpression="#rsv.#ref.#st = :settled AND #rsv.#ref.#ramt = :a",
            ExpressionAttributeNames={
                "#refd": "refunded",
                "#avail": "available",
                "#rsv": "reservations",
                "#ref": refund.reference,
                "#st": "state",
                "#ramt": "amount",
            },
            ExpressionAttributeValues={
                ":a": {"N": str(refund.amount)},
                ":settled": {"S": SETTLED},
                ":reversed": {"S": REVERSED},
            },
        )

    def check_later(self, refund: StoredRefund, next_check_ms: int) -> None:
        self._update(
            TableName=self._refunds,
            Key=_key(refund),
            UpdateExpression="SET next_check_ms = :next",
            ConditionExpression="attribute_exists(next_check_ms)",  # moved on meanwhile: nothing to follow up
            ExpressionAttributeValues={":next": {"N": str(next_check_ms)}},
        )

    def pending(self, due_by_ms: int, limit: int) -> list[FollowUp]:
        found: list[FollowUp] = []
        for shard in range(FOLLOW_UP_SHARDS):
            query: dict[str, Any] = {
                "TableName": self._refunds,
                "IndexName": PENDING_INDEX,
                "KeyConditionExpression": "pending_bucket = :b AND next_check_ms <= :due",
                "ExpressionAttributeValues": {":b": {"S": str(shard)}, ":due": {"N": str(due_by_ms)}},
                "Limit": limit,
            }
            response = self._call(functools.partial(self._client().query, **query))
            for item in response.get("Items", []):
                since = _epoch_ms(item["created_at"]["S"])
                found.append(
                    FollowUp(item["refund_id"]["S"], item["payment_id"]["S"], item["processor_refund_id"]["S"], since)
                )
        return sorted(found, key=lambda f: f.since_ms)[:limit]

    def _update(self, **request: Any) -> bool:
        try:
            self._call(lambda: self._client().update_item(**request))
        except _Refused:
            return False
        return True

    @staticmethod
    def _call(call: Callable[[], Any]) -> Any:
        try:
            with unavailable_as(RefundsUnavailable):
                return call()
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise _Refused() from None
            raise


def _epoch_ms(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000)


def _key(refund: StoredRefund) -> dict[str, Any]:
    return {"payment_id": {"S": refund.payment_id}, "refund_id": {"S": refund.id}}
