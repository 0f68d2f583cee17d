"""The embedded DynamoDB in a child process, so the bench process's CPU time is the handler's alone.

It is still local.embedded_dynamodb.EmbeddedDynamoDB (moto behind one lock); only the process differs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE_TABLE = "bench-PowertoolsIdempotency"


class DynamoDBProcess:
    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.endpoint = ""

    def start(self) -> DynamoDBProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.dynamodb"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"embedded DynamoDB did not start: {line!r}")
        self.endpoint = line
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.stdin is not None:
            self._process.stdin.close()  # the child exits when its stdin closes
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> DynamoDBProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def create_tables(client: Any) -> dict[str, str]:
    """Our tables from template.yaml, plus the baseline's table with Powertools' schema (partition key `id`)."""
    from local.tables import create_tables as create_template_tables

    names = create_template_tables(client, prefix="bench")
    if BASELINE_TABLE not in client.list_tables()["TableNames"]:
        client.create_table(
            TableName=BASELINE_TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.update_time_to_live(
            TableName=BASELINE_TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
        )
    return {**names, "BaselineIdempotencyTable": BASELINE_TABLE}


def main() -> None:
    from local.embedded_dynamodb import EmbeddedDynamoDB

    db = EmbeddedDynamoDB().start()
    print(db.endpoint, flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)
    db.stop()


if __name__ == "__main__":
    main()


class Janitor:
    """Empties the tables between measurements, with its own (uncounted) client.

    moto deep-copies every table a TransactWriteItems touches (its rollback), so a transaction's cost in
    moto grows with the table; DynamoDB's does not. Small tables keep moto's cost per call flat.
    """

    KEYS = {"IdempotencyTable": "id", "PaymentsTable": "payment_id", "BaselineIdempotencyTable": "id"}

    def __init__(self, client: Any, table_names: dict[str, str]) -> None:
        self._client = client
        self._tables = {table_names[logical]: key for logical, key in self.KEYS.items()}

    def sweep(self) -> int:
        deleted = 0
        for table, key in self._tables.items():
            pages = self._client.get_paginator("scan").paginate(
                TableName=table, ProjectionExpression="#k", ExpressionAttributeNames={"#k": key}
            )
            keys = [item for page in pages for item in page["Items"]]
            for start in range(0, len(keys), 25):
                batch = [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]
                self._client.batch_write_item(RequestItems={table: batch})
            deleted += len(keys)
        return deleted
