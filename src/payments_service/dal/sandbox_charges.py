"""The sandbox processor's own charges table: a charge any function can look up, as at a real processor."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..domain.processor import ProcessorUnavailable
from .errors import error_code, unavailable_as

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBSandboxCharges:
    def __init__(self, client: Callable[[], DynamoDBClient], table_name: str) -> None:
        self._client = client
        self._table = table_name

    def record(self, reference: str, charge_id: str) -> None:
        try:
            with unavailable_as(ProcessorUnavailable):
                self._client().put_item(
                    TableName=self._table,
                    Item={"reference": {"S": reference}, "charge_id": {"S": charge_id}},
                    ConditionExpression="attribute_not_exists(#r)",  # once per reference, like the processor
                    ExpressionAttributeNames={"#r": "reference"},
                )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return  # charged before under this reference: the same charge
            raise

    def find(self, reference: str) -> str | None:
        with unavailable_as(ProcessorUnavailable):
            response = self._client().get_item(
                TableName=self._table, Key={"reference": {"S": reference}}, ConsistentRead=True
            )
        item = response.get("Item")
        return item["charge_id"]["S"] if item else None
