"""SnapStart priming, the DynamoDB part: the first request's calls on a key that cannot exist, before the snapshot.

A client built at init still loads its service model, resolves its endpoint rules, builds its serializer
and signer, and opens a connection on its first call; after every restore a first request would pay for
all of it. One real call during the snapshot's init pays once, for every restored copy, and reads no data.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# No key of ours has this shape: every id is a hash of a merchant and a key (idempotency/keys.py).
PRIMING_KEY = "priming#before-snapshot"


def prime_dynamodb(client: DynamoDBClient, table: str, *, transactions: bool = True) -> bool:
    """Exercise the first request's calls (a read, a conditional put, a transaction — or, for the sequential
    completion on tables without transactions, a conditional update) on a key that does not exist, each
    refused by its own condition so that nothing is written. False if a call failed for another reason
    (priming never fails an init)."""
    key = {"id": {"S": PRIMING_KEY}}
    absent = "attribute_exists(id)"  # the key never exists: each write is refused, nothing is written
    try:
        client.get_item(TableName=table, Key=key, ProjectionExpression="id")
        with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
            client.put_item(
                TableName=table, Item=key, ConditionExpression=absent, ReturnValuesOnConditionCheckFailure="ALL_OLD"
            )
        if not transactions:
            with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
                client.update_item(
                    TableName=table, Key=key, UpdateExpression="REMOVE unused", ConditionExpression=absent
                )
            return True
        # A Put: IAM authorizes a transaction by its items' actions, and the function may PutItem on the keys
        # table, not ConditionCheckItem (tests/integration/test_iam_grants.py).
        with contextlib.suppress(client.exceptions.TransactionCanceledException):
            client.transact_write_items(
                TransactItems=[{"Put": {"TableName": table, "Item": key, "ConditionExpression": absent}}]
            )
    except (BotoCoreError, ClientError):
        return False
    return True
