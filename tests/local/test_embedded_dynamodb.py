"""The embedded DynamoDB's item-level transaction backups: a cancelled transaction leaves every item as
it was, and no table is copied (the cost of a transaction does not grow with the table)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from local.embedded_dynamodb import EmbeddedDynamoDB
from local.tables import create_tables


@pytest.fixture(scope="module")
def db() -> Iterator[tuple[Any, dict[str, str]]]:
    with EmbeddedDynamoDB() as embedded:
        client = boto3.client("dynamodb", endpoint_url=embedded.endpoint, region_name="us-east-1")
        yield client, create_tables(client, prefix="tx")


def test_a_cancelled_transaction_restores_every_item_it_touched_and_copies_no_table(db: Any) -> None:
    client, names = db
    keys, payments = names["IdempotencyTable"], names["PaymentsTable"]
    client.put_item(TableName=keys, Item={"id": {"S": "k1"}, "state": {"S": "IN_PROGRESS"}})
    client.put_item(TableName=payments, Item={"payment_id": {"S": "p-taken"}, "amount": {"N": "1"}})
    tables = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables
    before = {name: tables[name] for name in (keys, payments)}
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": keys,
                        "Key": {"id": {"S": "k1"}},
                        "UpdateExpression": "SET #s = :c",
                        "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":c": {"S": "COMPLETED"}},
                    }
                },
                {"Put": {"TableName": payments, "Item": {"payment_id": {"S": "p-new"}}}},
                {
                    "Put": {
                        "TableName": payments,
                        "Item": {"payment_id": {"S": "p-taken"}, "amount": {"N": "2"}},
                        "ConditionExpression": "attribute_not_exists(payment_id)",
                    }
                },
            ]
        )
    assert client.get_item(TableName=keys, Key={"id": {"S": "k1"}})["Item"]["state"] == {"S": "IN_PROGRESS"}
    assert "Item" not in client.get_item(TableName=payments, Key={"payment_id": {"S": "p-new"}})
    assert client.get_item(TableName=payments, Key={"payment_id": {"S": "p-taken"}})["Item"]["amount"] == {"N": "1"}
    assert all(tables[name] is table for name, table in before.items())  # rolled back in place, not from copies


def test_a_committed_transaction_writes_every_item(db: Any) -> None:
    client, names = db
    keys, payments = names["IdempotencyTable"], names["PaymentsTable"]
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": keys, "Item": {"id": {"S": "k2"}, "state": {"S": "COMPLETED"}}}},
            {
                "Put": {
                    "TableName": payments,
                    "Item": {"payment_id": {"S": "p2"}},
                    "ConditionExpression": "attribute_not_exists(payment_id)",
                }
            },
        ]
    )
    assert client.get_item(TableName=keys, Key={"id": {"S": "k2"}})["Item"]["state"] == {"S": "COMPLETED"}
    assert "Item" in client.get_item(TableName=payments, Key={"payment_id": {"S": "p2"}})
