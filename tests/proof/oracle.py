"""What the proof suite observes: answers as the client sees them, and the tables as DynamoDB holds them."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from typing import Any

from payments_service.dal.idempotency_table import from_item
from payments_service.idempotency.keys import record_id
from payments_service.idempotency.records import IdempotencyRecord
from tests.support import FakeContext


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    headers: dict[str, str]

    @classmethod
    def of(cls, response: dict[str, Any]) -> Answer:
        multi = response.get("multiValueHeaders") or {}
        headers = {k: v[-1] for k, v in multi.items() if v}
        headers.update(response.get("headers") or {})
        return cls(int(response["statusCode"]), str(response.get("body") or ""), headers)

    @property
    def replayed(self) -> bool:
        return self.headers.get("Idempotent-Replayed") == "true"

    @property
    def retry_after(self) -> int:
        value = self.headers["Retry-After"]
        assert value.isdigit() and int(value) >= 1, f"Retry-After must be a whole number of seconds >= 1: {value!r}"
        return int(value)

    @property
    def payment_id(self) -> str:
        return str(json.loads(self.body)["id"])

    def same_bytes(self, other: Answer) -> bool:
        """Status, body and the headers a client acts on are identical (a replay adds only its marker)."""
        keep = ("Content-Type", "Location")
        return (
            self.status == other.status
            and self.body == other.body
            and {k: self.headers.get(k) for k in keep} == {k: other.headers.get(k) for k in keep}
        )


def call(deps: Any, event: dict[str, Any], remaining_ms: int = 20_000) -> Answer:
    """The real Lambda handler with these collaborators, as API Gateway would call it."""
    from payments_service import bootstrap
    from payments_service.handlers import api

    bootstrap.use(deps)
    with contextlib.redirect_stdout(io.StringIO()):  # Powertools logs and EMF metrics
        return Answer.of(api.lambda_handler(event, FakeContext(remaining_ms)))


def payments_of(client: Any, table: str, merchant: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "merchant_id = :m",
        "ExpressionAttributeValues": {":m": {"S": merchant}},
        "ConsistentRead": True,
    }
    while True:
        page = client.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def key_record(client: Any, table: str, merchant: str, key: str) -> IdempotencyRecord | None:
    got = client.get_item(TableName=table, Key={"id": {"S": record_id(merchant, key)}}, ConsistentRead=True)
    return from_item(got.get("Item"))


def merchant() -> str:
    from tests.support import unique

    return f"arn:aws:iam::111111111111:user/{unique('proof')}"
