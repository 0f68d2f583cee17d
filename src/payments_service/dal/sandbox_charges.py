"""The sandbox processor's own charges table: a charge any function can look up, as at a real processor."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.processor import ProcessorUnavailable
from .errors import error_code, is_transient

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBSandboxCharges:
    def __init__(self, client: Callable[[], DynamoDBClient], table_name: str) -> None:
        self._client = client
        self._table = table_name

    def record(self, reference: str, charge_id: str) -> None:
        try:
            self._client().put_item(
                TableName=self._table,
                Item={"reference": {"S": reference}, "charge_id": {"S": charge_id}},
                ConditionExpression="attribute_not_exists(#r)",  # once per reference, like the processor
                ExpressionAttributeNames={"#r": "reference"},
            )
        except (ClientError, BotoCoreError) as error:
            if isinstance(error, ClientError) and error_code(error) == "ConditionalCheckFailedException":
                return  # charged before under this reference: the same charge
            if is_transient(error):
                raise ProcessorUnavailable(type(error).__name__) from error
            raise

    def find(self, reference: str) -> str | None:
        try:
            response = self._client().get_item(
                TableName=self._table, Key={"reference": {"S": reference}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as error:
            if is_transient(error):
                raise ProcessorUnavailable(type(error).__name__) from error
            raise
        item = response.get("Item")
        return item["charge_id"]["S"] if item else None
