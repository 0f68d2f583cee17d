"""Embedded DynamoDB: moto's server on 127.0.0.1 with requests serialized.

Stock moto is not linearizable: two concurrent conditional puts on one key can both succeed.
Real DynamoDB serializes writes per item; one lock around the whole app is the simplest way to
give moto that guarantee (and stronger, which only makes races in our code easier to see).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import signal
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.test import EnvironBuilder

from .state import TARGET_PREFIX, WRITES, Journal

StartResponse = Callable[..., Any]
REGION = "us-east-1"


# Hand-written glue, because moto's TransactWriteItems backs up every table it touches with a deep copy
# (to roll back a cancelled transaction), so each payment costs time proportional to the tables' size.
# Here the backup is item-level: the items the transaction names, copied before moto applies it and put
# back if it raises. moto still does all the work; the deep copy of a Table becomes the Table itself (its
# rollback then reassigns the same object). Safe because every request runs under SerializedApp's lock.
class _TablesNotCopied:
    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_moto_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def _key_of(table: Table, operation: dict[str, Any]) -> tuple[DynamoType, DynamoType | None]:
    key = operation.get("Key") or operation["Item"]
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return DynamoType(key[table.hash_key_attr]), range_value


def _transact_write_items_with_item_backups(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    backups: list[tuple[Table, DynamoType, DynamoType | None, Any]] = []
    for entry in transact_items:
        for operation in entry.values():
            table = backend.tables.get(operation.get("TableName"))
            if table is None:
                continue
            try:
                hash_value, range_value = _key_of(table, operation)
            except (KeyError, TypeError):
                continue  # moto rejects a malformed key itself
            backups.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
    try:
        _moto_transact_write_items(backend, transact_items)
    except Exception:
        for table, hash_value, range_value, item in reversed(backups):
            slot = table.items[hash_value] if range_value is not None else table.items
            key = range_value if range_value is not None else hash_value
            if item is None:
                slot.pop(key, None)
            else:
                slot[key] = item
        raise


def install_item_level_transactions() -> None:
    dynamodb_models.copy = _TablesNotCopied  # type: ignore[attr-defined,assignment]
    dynamodb_models.DynamoDBBackend.transact_write_items = _transact_write_items_with_item_backups  # type: ignore[assignment]


class FaultPlan:
    """Failures to inject, by DynamoDB operation name (tests of throttling and 5xx)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[tuple[int, str]]] = {}
        self._stalls: dict[str, list[float]] = {}
        self._stalled = 0  # requests sleeping right now
        self._idle = threading.Condition(self._lock)

    def add(self, operation: str, status: int = 400, code: str = "ThrottlingException", times: int = 1) -> None:
        with self._lock:
            self._pending.setdefault(operation, []).extend([(status, code)] * times)

    def stall(self, operation: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `operation` answer only after `seconds` (then apply as usual): slow
        DynamoDB, or a network losing answers past the client's read timeout."""
        with self._lock:
            self._stalls.setdefault(operation, []).extend([seconds] * times)

    def wait_for_stalls(self, timeout: float = 30) -> bool:
        """Until every stalled request has been applied (they may land after the client gave up)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._stalled == 0, timeout)

    def take_stall(self, operation: str) -> float | None:
        with self._lock:
            queue = self._stalls.get(operation)
            if not queue:
                return None
            self._stalled += 1
            return queue.pop(0)

    def stall_done(self) -> None:
        with self._idle:
            self._stalled -= 1
            self._idle.notify_all()

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self._stalls.clear()

    def take(self, operation: str) -> tuple[int, str] | None:
        with self._lock:
            queue = self._pending.get(operation)
            return queue.pop(0) if queue else None


class SerializedApp:
    """WSGI wrapper: one request at a time, plus optional injected faults, a call log and a write journal."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.faults = FaultPlan()
        self.calls: list[str] = []
        self.journal: Journal | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(TARGET_PREFIX):
            # SQS (the local queues): serialized too, but neither logged nor faulted; its poller would
            # fill the call log of the DynamoDB tests.
            with self._lock:
                return list(self._app(environ, start_response))
        operation = target.rsplit(".", 1)[-1]
        stall = self.faults.take_stall(operation)
        if stall is not None:
            time.sleep(stall)  # outside the lock: other requests go on meanwhile
            try:
                return self._serve(operation, environ, start_response)
            finally:
                self.faults.stall_done()
        return self._serve(operation, environ, start_response)

    def _serve(self, operation: str, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            self.calls.append(operation)
            fault = self.faults.take(operation)
            if fault is not None:
                status, code = fault
                body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"})
                start_response(f"{status} Injected", [("Content-Type", "application/x-amz-json-1.0")])
                return [body.encode()]
            if self.journal is not None and operation in WRITES:
                return self._journaled(operation, environ, start_response)
            # Consume the body inside the lock so the response reflects one serialized state.
            return list(self._app(environ, start_response))

    def _journaled(self, operation: str, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        statuses: list[str] = []

        def record_status(status: str, *args: Any) -> Any:
            statuses.append(status)
            return start_response(status, *args)

        answer = list(self._app(environ, record_status))
        if statuses and statuses[0].startswith("200") and self.journal is not None:
            self.journal.append(operation, body)
        return answer

    def apply(self, operation: str, body: bytes) -> int:
        """One request straight into moto, no network (replaying saved state)."""
        scope = f"Credential=local/20200101/{REGION}/dynamodb/aws4_request"
        headers = [
            ("X-Amz-Target", TARGET_PREFIX + operation),
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Authorization", f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0"),
        ]
        environ = EnvironBuilder(method="POST", path="/", headers=headers, data=body).get_environ()
        statuses: list[str] = []
        with self._lock:
            list(self._app(environ, lambda status, *_: statuses.append(status)))
        return int(statuses[0].split()[0])

    @staticmethod
    def items() -> dict[str, list[dict[str, Any]]]:
        """Every item of every table, in DynamoDB JSON (for the compacted state file)."""
        tables = dynamodb_models.dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables
        return {name: [item.to_json()["Attributes"] for item in table.all_items()] for name, table in tables.items()}


class QuietRequestHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # one line per DynamoDB call would drown the API's own log


class EmbeddedDynamoDB:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: Path | None = None) -> None:
        install_item_level_transactions()
        self.app = SerializedApp(DomainDispatcherApplication(create_backend_app))
        self.state = state
        self._server: BaseWSGIServer = make_server(
            host, port, self.app, threaded=True, request_handler=QuietRequestHandler
        )
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> EmbeddedDynamoDB:
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-dynamodb", daemon=True)
        self._thread.start()
        return self

    def restore_state(self) -> dict[str, int]:
        """With a state file: replay it (tables must exist), then journal every write. Items per table."""
        if self.state is None:
            return {}
        journal = Journal(self.state)
        journal.restore(self.app.apply, self.app.items)
        self.app.journal = journal
        return {name: len(items) for name, items in self.app.items().items()}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.app.journal is not None:
            self.app.journal.close()

    def __enter__(self) -> EmbeddedDynamoDB:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Embedded DynamoDB (moto, serialized) on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--create-tables", action="store_true", help="create template.yaml's tables")
    args = parser.parse_args()
    try:
        db = EmbeddedDynamoDB(port=args.port).start()
    except OSError as error:
        raise SystemExit(f"cannot listen on 127.0.0.1:{args.port}: {error.strerror}") from None
    print(f"embedded DynamoDB on {db.endpoint} (AWS_ENDPOINT_URL_DYNAMODB={db.endpoint})", flush=True)
    if args.create_tables:
        import boto3

        from .tables import create_tables

        client = boto3.client(
            "dynamodb",
            endpoint_url=db.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
        )
        print(f"tables: {create_tables(client)}  (names as in env.json)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    db.stop()


if __name__ == "__main__":
    main()
