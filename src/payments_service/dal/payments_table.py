"""The payments table: one item per payment, created inside the idempotency transaction.

Each item also holds its refund balance (domain/refunds.py): `refunded`, `pending` and `available`
(which always add up to `amount`) and `reservations`, a map from a refund's processor reference to
{amount, record_id, state}. DynamoDB conditions cannot add, so `available` is kept as its own
attribute and a reservation's condition is simply `available >= :amount`. A settled or given-back
reservation keeps its entry (state `settled` / `given_back`): no reference is ever reserved twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..domain.pages import Page
from ..domain.payments import PaymentsUnavailable
from ..domain.stored_payments import DeclinedPayment, Payment, StoredPayment
from . import paging
from .errors import error_code, unavailable_as

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from ..domain.refunds import GiveBackRefund, Reservation, SettleRefund

BY_MERCHANT_INDEX = "by_merchant_created"  # template.yaml: merchant_id HASH, created_at RANGE
# Sparse: only payments awaiting their customer (3-D Secure) carry its keys, so the reconciler finds them
# without a scan; `next_check_ms` is when to look at one again (follow_up.py).
AWAITING_INDEX = "awaiting_customer"  # template.yaml: awaiting_bucket HASH, next_check_ms RANGE
FOLLOW_UP_SHARDS = 4
_CURSOR_SHAPE = {"payment_id": Payment.ID_PATTERN, "created_at": paging.RFC3339_MS}
_BALANCE_NAMES = {
    "#amt": "amount",
    "#refd": "refunded",
    "#pend": "pending",
    "#avail": "available",
    "#rsv": "reservations",
    "#ref": "",  # set per call: the reference
    "#ramt": "amount",
    "#st": "state",
}
PENDING, SETTLED, GIVEN_BACK = "pending", "settled", "given_back"
REVERSED = "reversed"  # settled, then failed at the processor: the amount is refundable again


def declined_to_item(declined: DeclinedPayment) -> dict[str, Any]:
    item: dict[str, Any] = {
        "payment_id": {"S": declined.id},
        "merchant_id": {"S": declined.merchant_id},
        "amount": {"N": str(declined.amount)},
        "currency": {"S": declined.currency},
        "status": {"S": declined.status},
        "decline_code": {"S": declined.decline_code},
        "metadata": {"M": {k: {"S": v} for k, v in declined.metadata.items()}},
        "created_at": {"S": declined.created_at},
    }
    if declined.description is not None:
        item["description"] = {"S": declined.description}
    return item


def follow_up_shard(item_id: str) -> str:
    """One of a few index partitions, so that follow-ups of many items never all write one."""
    return str(int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16) % FOLLOW_UP_SHARDS)


def to_item(payment: StoredPayment) -> dict[str, Any]:
    item: dict[str, Any] = {
        "payment_id": {"S": payment.id},
        "merchant_id": {"S": payment.merchant_id},
        "amount": {"N": str(payment.amount)},
        "currency": {"S": payment.currency},
        "status": {"S": payment.state},
        "metadata": {"M": {k: {"S": v} for k, v in payment.metadata.items()}},
        "created_at": {"S": payment.created_at},
        "processor_payment_id": {"S": payment.processor_payment_id},
        "refunded": {"N": str(payment.amount_refunded)},
        "pending": {"N": str(payment.amount_pending)},
        "available": {"N": str(payment.amount_available)},
        "reservations": {"M": {}},
    }
    if payment.description is not None:
        item["description"] = {"S": payment.description}
    if payment.customer is not None:
        item["customer"] = {"S": payment.customer}
    if payment.next_action is not None:
        item["next_action"] = {"S": json.dumps(payment.next_action, separators=(",", ":"), sort_keys=True)}
    if payment.client_secret is not None:
        item["client_secret"] = {"S": payment.client_secret}
    if payment.awaiting_since_ms is not None:
        item["awaiting_since_ms"] = {"N": str(payment.awaiting_since_ms)}
    if payment.next_check_ms is not None:
        item["awaiting_bucket"] = {"S": follow_up_shard(payment.id)}
        item["next_check_ms"] = {"N": str(payment.next_check_ms)}
    return item


def _attempt_of(item: dict[str, Any]) -> dict[str, Any]:
    """What every record holds, a payment or a declined attempt."""
    return {
        "id": item["payment_id"]["S"],
        "merchant_id": item["merchant_id"]["S"],
        "amount": int(item["amount"]["N"]),
        "currency": item["currency"]["S"],
        "description": item.get("description", {}).get("S"),
        "metadata": {k: v["S"] for k, v in item.get("metadata", {}).get("M", {}).items()},
        "created_at": item["created_at"]["S"],
    }


def from_item(item: dict[str, Any]) -> StoredPayment:
    entries = item.get("reservations", {}).get("M", {})
    amounts = {ref: int(entry["M"]["amount"]["N"]) for ref, entry in entries.items()}
    pending = {ref for ref, entry in entries.items() if entry["M"].get("state", {}).get("S", PENDING) == PENDING}
    next_action = item.get("next_action", {}).get("S")
    awaiting_since = item.get("awaiting_since_ms", {}).get("N")
    return StoredPayment(
        **_attempt_of(item),
        state=item["status"]["S"],
        customer=item.get("customer", {}).get("S"),
        next_action=json.loads(next_action) if next_action else None,
        client_secret=item.get("client_secret", {}).get("S"),
        decline_code=item.get("decline_code", {}).get("S"),
        awaiting_since_ms=int(awaiting_since) if awaiting_since else None,
        # Items written before issue 9 named it charge_id.
        processor_payment_id=(item.get("processor_payment_id") or item["charge_id"])["S"],
        amount_refunded=int(item.get("refunded", {}).get("N", "0")),
        amount_pending=int(item.get("pending", {}).get("N", "0")),
        reservations={ref: amount for ref, amount in amounts.items() if ref in pending},
        closed_reservations={ref: amount for ref, amount in amounts.items() if ref not in pending},
        accounted="available" in item,
    )


def _balance_names(expression: str, reference: str) -> dict[str, str]:
    used = set(re.findall(r"#\w+", expression))  # whole tokens: "#ref" is not in "#refd"
    return {k: (reference if k == "#ref" else v) for k, v in _BALANCE_NAMES.items() if k in used}


def _closed_reservation(write: SettleRefund | GiveBackRefund, update: str, closed: str, table: str) -> dict[str, Any]:
    """An Update entry that closes the pending reservation under `reference`, only if it holds exactly `amount`."""
    condition = "#rsv.#ref.#ramt = :a AND #rsv.#ref.#st = :pending"
    return {
        "Update": {
            "TableName": table,
            "Key": {"payment_id": {"S": write.payment_id}},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": _balance_names(update + condition, write.reference),
            "ExpressionAttributeValues": {
                ":a": {"N": str(write.amount)},
                ":pending": {"S": PENDING},
                ":closed": {"S": closed},
            },
        }
    }


class DynamoDBPaymentsTable:
    def __init__(self, client: Callable[[], DynamoDBClient], table_name: str) -> None:
        self._client = client
        self._table = table_name

    def insert(self, item: dict[str, Any]) -> dict[str, Any]:
        """A TransactWriteItems entry that creates a record; its condition fails if the id exists."""
        return {
            "Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(payment_id)"}
        }

    def settle(self, write: SettleRefund) -> dict[str, Any]:
        """A TransactWriteItems entry: the reservation becomes refunded; refused unless it is still held."""
        update = "SET #refd = #refd + :a, #pend = #pend - :a, #rsv.#ref.#st = :closed"
        return _closed_reservation(write, update, SETTLED, self._table)

    def give_back(self, write: GiveBackRefund) -> dict[str, Any]:
        """A TransactWriteItems entry: the reservation becomes available again; refused unless still held."""
        update = "SET #avail = #avail + :a, #pend = #pend - :a, #rsv.#ref.#st = :closed"
        return _closed_reservation(write, update, GIVEN_BACK, self._table)

    def reserve(self, payment: StoredPayment, reservation: Reservation) -> None:
        """One conditional UpdateItem: available -> pending under the reference, if enough is available."""
        from ..domain.refunds import MAX_REFUNDS_PER_PAYMENT, RefundsUnavailable, ReservationRefused  # refunds only

        entry = {
            "M": {
                "amount": {"N": str(reservation.amount)},
                "record_id": {"S": reservation.record_id},
                "state": {"S": PENDING},
            }
        }
        values: dict[str, Any] = {":a": {"N": str(reservation.amount)}}
        if payment.accounted:
            update = "SET #avail = #avail - :a, #pend = #pend + :a, #rsv.#ref = :entry"
            condition = "#avail >= :a AND attribute_not_exists(#rsv.#ref) AND size(#rsv) < :most"
            values |= {":entry": entry, ":most": {"N": str(MAX_REFUNDS_PER_PAYMENT)}}
        else:
            # Written before refunds existed: the first reservation starts its balance, in the same write.
            update = "SET #avail = #amt - :a, #pend = :a, #refd = :zero, #rsv = :reservations"
            condition = "attribute_exists(#amt) AND attribute_not_exists(#avail) AND #amt >= :a"
            values |= {":zero": {"N": "0"}, ":reservations": {"M": {reservation.reference: entry}}}
        try:
            with unavailable_as(RefundsUnavailable):
                self._client().update_item(
                    TableName=self._table,
                    Key={"payment_id": {"S": reservation.payment_id}},
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=_balance_names(update + condition, reservation.reference),
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                item = error.response.get("Item")
                raise ReservationRefused(from_item(item) if item else None) from None
            raise

    def get(self, payment_id: str) -> StoredPayment | DeclinedPayment | None:
        with unavailable_as(PaymentsUnavailable):
            response = self._client().get_item(
                TableName=self._table, Key={"payment_id": {"S": payment_id}}, ConsistentRead=True
            )
        item = response.get("Item")
        if not item:
            return None
        if item.get("status", {}).get("S") == "declined":
            return DeclinedPayment(decline_code=item["decline_code"]["S"], **_attempt_of(item))
        return from_item(item)

    def list_by_merchant(self, merchant: str, limit: int, cursor: str | None) -> Page[StoredPayment]:
        """Newest first from the merchant/creation-time index (eventually consistent, as every GSI is)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_MERCHANT_INDEX,
            "KeyConditionExpression": "merchant_id = :m",
            # Declined attempts share the index; they are not payments (query_at_most pages past them).
            "FilterExpression": "#s <> :declined",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":m": {"S": merchant}, ":declined": {"S": "declined"}},
            "ScanIndexForward": False,
        }
        if cursor is not None:
            start = paging.decode(cursor, _CURSOR_SHAPE)
            query["ExclusiveStartKey"] = {
                "merchant_id": {"S": merchant},
                "created_at": {"S": start["created_at"]},
                "payment_id": {"S": start["payment_id"]},
            }
        with unavailable_as(PaymentsUnavailable):
            items = paging.query_at_most(self._client(), query, limit + 1)  # one more: has_more, exactly
        payments = [from_item(item) for item in items[:limit]]
        more = len(items) > limit
        last = payments[-1] if more else None
        next_cursor = paging.encode({"payment_id": last.id, "created_at": last.created_at}) if last else None
        return Page(payments, next_cursor)
