"""Embedded DynamoDB: moto's server on 127.0.0.1 with requests serialized.

Stock moto is not linearizable: two concurrent conditional puts on one key can both succeed.
Real DynamoDB serializes writes per item; one lock around the whole app is the simplest way to
give moto that guarantee (and stronger, which only makes races in our code easier to see).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

StartResponse = Callable[..., Any]


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
    """WSGI wrapper: one request at a time, plus optional injected faults and a call log."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.faults = FaultPlan()
        self.calls: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.rsplit(".", 1)[-1] if target else ""
        stall = self.faults.take_stall(operation) if operation else None
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
            fault = self.faults.take(operation) if operation else None
            if fault is not None:
                status, code = fault
                body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"})
                start_response(f"{status} Injected", [("Content-Type", "application/x-amz-json-1.0")])
                return [body.encode()]
            # Consume the body inside the lock so the response reflects one serialized state.
            return list(self._app(environ, start_response))


class QuietRequestHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # one line per DynamoDB call would drown the API's own log


class EmbeddedDynamoDB:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = SerializedApp(DomainDispatcherApplication(create_backend_app))
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

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

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
