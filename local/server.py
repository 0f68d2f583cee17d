"""`make run`: the API on http://127.0.0.1:3000 without Docker or an AWS account.

Each HTTP request becomes the API Gateway REST proxy event `sam local start-api` would build and goes to
an execution environment (a worker process with the handler imported, one event at a time), as on Lambda.
What API Gateway answers itself (unknown routes, framing errors, oversized bodies) comes from local.gateway.
The payment-request queue runs too: moto's SQS with the template's queues, polled by an emulation of
Lambda's event source mapping (local.event_source) that invokes the queue function in its own environments.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

from . import gateway, server_info, template
from .environments import EnvironmentFailed
from .events import LOCAL_MERCHANT, MERCHANT_HEADER, build_event, find_route
from .runtime import LocalRuntime

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_SIZE = re.compile(r"[0-9]{1,19}")  # ASCII digits only: "²".isdigit() is True, int("²") raises
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class Malformed(Exception):
    """Framing the server cannot read: answered 400 (or 413), and the connection closed."""

    def __init__(self, detail: str, kind: str = "BAD_REQUEST") -> None:
        super().__init__(detail)
        self.kind = kind


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # a burst of simultaneous connections is queued, not reset
    runtime: LocalRuntime
    log: IO[str] = sys.stdout
    draining = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_flight = 0
        self._idle = threading.Condition()

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, seconds: float, interrupted: threading.Event) -> int:
        """Wait until no request is in flight (or time is up, or a second Ctrl-C); returns those left."""
        deadline = time.monotonic() + seconds
        with self._idle:
            while self._in_flight and time.monotonic() < deadline and not interrupted.is_set():
                self._idle.wait(min(0.2, max(0.0, deadline - time.monotonic())))
            return self._in_flight


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Status line, headers and body leave in one write, and without Nagle's delay: a keep-alive client
    # otherwise waits for its delayed ACK (~40 ms) on every request.
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024
    timeout = 60  # a client that stops mid-request frees its thread

    def log_message(self, format: str, *args: Any) -> None:
        pass  # replaced by one line per request in _serve

    def version_string(self) -> str:
        return "local-api-gateway"

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own refusals (bad request line, oversized headers...): problem+json, never HTML.
        self.request_version = "HTTP/1.1"  # a malformed request line leaves HTTP/0.9, which has no headers
        self.close_connection = True
        kind = "REQUEST_TOO_LARGE" if code == 413 else "BAD_REQUEST"
        status = code if 400 <= code < 500 else 400
        detail = message or explain or "Malformed HTTP request"
        self._respond(gateway.render(kind, str(uuid.uuid4()), detail=detail, status=status))
        self.wfile.flush()

    def _serve(self) -> None:
        started = time.perf_counter()
        with self.server.in_flight():
            reply = self._dispatch()
            if self.server.draining:
                self.close_connection = True
            self._respond(reply)
        replayed = "replayed" if reply.headers.get("Idempotent-Replayed") == ["true"] else ""
        ms = (time.perf_counter() - started) * 1000
        print(
            f"{self.command} {self.path} {reply.status} {ms:.1f}ms {replayed}".rstrip(),
            file=self.server.log,
            flush=True,
        )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method with no do_X itself (501, HTML); route it like the others.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _respond(self, reply: gateway.Reply) -> None:
        self.send_response(reply.status)
        for name, values in reply.headers.items():
            for value in values:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(65537)
            size_text = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not _CHUNK_SIZE.fullmatch(size_text):
                raise Malformed("A chunk size is not a hexadecimal number on its own line")
            size = int(size_text, 16)
            if size == 0:
                break
            if len(body) + size > MAX_BODY_BYTES:
                raise Malformed("API Gateway accepts at most 10 MB", "REQUEST_TOO_LARGE")
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise Malformed("A chunk is shorter than its size or not followed by CRLF")
            body += chunk
        for _ in range(100):  # trailers, up to the blank line
            if self.rfile.readline(65537) in (b"\r\n", b"\n"):
                return bytes(body)
        raise Malformed("The chunked body does not end")

    def _read_body(self) -> bytes:
        encodings = [v.strip().lower() for v in self.headers.get_all("Transfer-Encoding") or []]
        lengths = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if encodings:
            if encodings != ["chunked"]:
                raise Malformed(f"Transfer-Encoding {', '.join(encodings)} is not supported")
            if lengths:
                raise Malformed("Content-Length and Transfer-Encoding together are ambiguous")
            return self._read_chunked()
        if len(lengths) > 1:
            raise Malformed("Content-Length appears with different values")
        declared = lengths.pop() if lengths else "0"
        if not _SIZE.fullmatch(declared):
            raise Malformed("Content-Length is not a number of bytes")
        size = int(declared)
        if size > MAX_BODY_BYTES:
            raise Malformed("API Gateway accepts at most 10 MB", "REQUEST_TOO_LARGE")
        body = self.rfile.read(size) if size else b""
        if len(body) < size:
            raise Malformed("The body is shorter than Content-Length")
        return body

    def _dispatch(self) -> gateway.Reply:  # noqa: PLR0911 - one answer per way a request ends
        request_id = str(uuid.uuid4())
        try:
            raw = self._read_body()
        except Malformed as error:
            self.close_connection = True  # the rest of the stream cannot be trusted
            return gateway.render(error.kind, request_id, detail=str(error))
        except TimeoutError:
            self.close_connection = True
            return gateway.render("BAD_REQUEST", request_id, detail="The body did not arrive in time")
        url = urlsplit(self.path)
        route, path_parameters, _ = find_route(self.command, url.path)
        resource = route.path if route is not None else None
        if route is None or resource is None:
            # API Gateway (REST, IAM auth) answers unknown routes and methods alike with 403.
            detail = f"No route for {self.command} {url.path}: API Gateway answers 403 Missing Authentication Token"
            context = {"httpMethod": self.command, "path": url.path, "resourcePath": url.path}
            return gateway.render(
                "MISSING_AUTHENTICATION_TOKEN", request_id, detail, request_headers=dict(self.headers), context=context
            )
        # An unsigned route (the webhook) has no principal, whatever the caller sends.
        merchant = (self.headers.get(MERCHANT_HEADER, LOCAL_MERCHANT) or None) if route.signed else None
        headers = [(k, v) for k, v in self.headers.items() if k.lower() != MERCHANT_HEADER.lower()]
        event = build_event(
            self.command,
            url.path,
            headers,
            parse_qsl(url.query, keep_blank_values=True),
            raw,
            resource=resource,
            path_parameters=path_parameters,
            merchant=merchant,
        )
        event["requestContext"]["requestId"] = request_id
        try:
            invocation = self.server.runtime.invoke(event, function=route.function)
        except EnvironmentFailed as error:
            print(f"function failed: {error}", file=sys.stderr, flush=True)
            return gateway.render("INTEGRATION_FAILURE", request_id, detail=f"The function did not answer: {error}")
        if invocation is None:
            return gateway.render("INTEGRATION_TIMEOUT", request_id, detail="No execution environment became free")
        if invocation.error is not None or invocation.response is None:
            error_type = (invocation.error or {}).get("errorType", "no response")
            return gateway.render("INTEGRATION_FAILURE", request_id, detail=f"The function raised {error_type}")
        try:
            return _to_http(invocation.response)
        except (TypeError, ValueError, AttributeError):
            return gateway.render("INTEGRATION_FAILURE", request_id, detail="Malformed Lambda proxy response")


def _to_http(response: dict[str, Any]) -> gateway.Reply:
    headers: dict[str, list[str]] = {}
    for name, value in (response.get("headers") or {}).items():
        headers[name] = [str(value)]
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = [str(v) for v in values]
    body = response.get("body") or ""
    data = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    return gateway.Reply(int(response["statusCode"]), headers, data)


def _banner(runtime: LocalRuntime, base: str, state: Path | None, concurrency: int) -> list[str]:
    if state is None:
        persistence = "state: in memory only, gone when the server stops (keep it: make run STATE=.local/state.jsonl)"
    else:
        restored = ", ".join(f"{n} items in {t}" for t, n in runtime.restored.items()) or "nothing yet"
        persistence = f"state: kept in {state} across restarts (restored {restored})"
    timeout = template.timeout_seconds()
    lines = [
        f"embedded DynamoDB (moto, serialized) on {runtime.dynamodb.endpoint}; tables {runtime.table_names}",
        persistence,
        f"function {template.handler_path()}: up to {concurrency} execution environments, one event at a time "
        f"each, started on demand (cold start), timeout {timeout} s",
        _processor_line(runtime.api_environment),
        f"payments API on {base}  (local-only merchant header: {MERCHANT_HEADER}, default {LOCAL_MERCHANT})",
    ]
    lines += _queue_banner(runtime)
    lines += [
        "try:",
        f"  curl -i -X POST {base}/payments -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' "
        """-d '{"amount":1000,"currency":"USD","source":"tok_visa"}'""",
    ]
    if runtime.queue is not None:
        port = base.rsplit(":", 1)[1]
        lines.append(f"  make enqueue PORT={port} KEY=demo-1   (the same payment, by the queue: a replay)")
    lines.append(f"Ctrl-C stops: no new connections, requests in flight finish (at most {timeout} s), then exit.")
    return lines


def _processor_line(environment: dict[str, str]) -> str:
    """Which processor charges: the sandbox, or Stripe and at which API base (never the key, only its mode)."""
    if environment.get("PAYMENT_PROCESSOR", "sandbox") != "stripe":
        return "processor: sandbox (no network; sources tok_visa, tok_chargeDeclined, tok_slow, ... in README)"
    base = environment.get("STRIPE_API_BASE") or "https://api.stripe.com (Stripe's default)"
    key = environment.get("STRIPE_API_KEY", "")
    mode = "test mode" if key.startswith(("sk_test_", "rk_test_")) else "LIVE key" if key else "no STRIPE_API_KEY set"
    return f"processor: Stripe, API base {base}, {mode}"


def _queue_banner(runtime: LocalRuntime) -> list[str]:
    queue, dead_letters, function = runtime.queue, runtime.dead_letter_queue, runtime.queue_function
    if queue is None or function is None:
        return []
    source = template.sqs_event_source(function)
    redrive = f", dead-letter queue {dead_letters.url}" if dead_letters is not None else ""
    return [
        f"payment-request queue (moto SQS, same endpoint) {queue.url}: visibility timeout "
        f"{queue.attributes.get('VisibilityTimeout', '30')} s{redrive}",
        f"function {template.handler_path(function)}: batches of up to {source.batch_size}, at most "
        f"{runtime.queue_concurrency} at once, partial batch failures; one line per batch below",
    ]


def _publish(runtime: LocalRuntime, base: str, port: int) -> bool:
    queue, dead_letters = runtime.queue, runtime.dead_letter_queue
    if queue is None:
        return False
    info = server_info.ServerInfo(
        os.getpid(), base, runtime.dynamodb.endpoint, queue.url, dead_letters.url if dead_letters else ""
    )
    server_info.publish(port, info)
    return True


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the payments API locally (no Docker, no AWS)")
    parser.add_argument("--port", type=int, default=3000, help="API port (default 3000)")
    parser.add_argument("--dynamodb-port", type=int, default=0, help="embedded DynamoDB port (default: any free)")
    parser.add_argument("--slow-seconds", type=float, default=None, help="tok_slow delay (default from settings: 3)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="most execution environments at once (default 4), like Lambda's"
    )
    parser.add_argument(
        "--state", type=Path, default=None, help="keep keys and payments in this file across restarts (default: none)"
    )
    parser.add_argument("--template", type=Path, default=None, help="another SAM template (default template.yaml)")
    parser.add_argument(
        "--completion",
        choices=["transaction", "sequential"],
        default=None,
        help="IDEMPOTENCY_COMPLETION (default: the template's, transaction); sequential is what global tables need",
    )
    parser.add_argument(
        "--queue-visibility-seconds",
        type=int,
        default=None,
        help="the queues' VisibilityTimeout instead of the template's (faster redelivery, for tests)",
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.queue_visibility_seconds is not None and not 0 <= args.queue_visibility_seconds <= 43200:
        parser.error("--queue-visibility-seconds must be between 0 and 43200 (SQS's range)")
    if args.template is not None:
        template.use(args.template)
    return args


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    overrides = {"SANDBOX_SLOW_SECONDS": str(args.slow_seconds)} if args.slow_seconds is not None else {}
    if args.completion is not None:
        overrides["IDEMPOTENCY_COMPLETION"] = args.completion
    try:
        server = _Server(("127.0.0.1", args.port), _Handler)
    except OSError as error:
        print(f"error: cannot listen on 127.0.0.1:{args.port} ({error.strerror}); try --port", file=sys.stderr)
        return 2
    out = sys.stdout
    server.log = out
    stop, stop_now = threading.Event(), threading.Event()

    def on_signal(*_: object) -> None:
        (stop_now if stop.is_set() else stop).set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # Logs of the environments (function JSON logs, REPORT lines) go to stderr; stdout keeps one line per request.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            runtime = LocalRuntime(
                args.dynamodb_port,
                overrides,
                args.concurrency,
                args.state,
                queue_visibility_seconds=args.queue_visibility_seconds,
            ).start()
        except (OSError, RuntimeError) as error:
            server.server_close()
            print(f"error: cannot start the embedded DynamoDB: {error}", file=sys.stderr)
            return 2
        server.runtime = runtime
        host, port = server.server_address[:2]
        base = f"http://{host!s}:{port}"
        runtime.start_event_source(out)
        published = _publish(runtime, base, int(port))
        for line in _banner(runtime, base, args.state, args.concurrency):
            print(line, file=out, flush=True)
        serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        serving.start()
        while not stop.wait(0.5):
            pass
        # Stop accepting, let requests in flight finish (bounded by the function's timeout), then exit.
        server.shutdown()
        server.socket.close()
        server.draining = True
        timeout = template.timeout_seconds() + 1
        print("stopping: no new connections; Ctrl-C again to stop at once", file=out, flush=True)
        if published:
            server_info.withdraw(int(port))
        left = server.wait_idle(timeout, stop_now)
        # The queue's poller stops taking batches; batches in flight finish, or stay on the queue.
        cut = runtime.stop(grace_seconds=0 if stop_now.is_set() else timeout)
        notes = [f"{left} requests cut short"] if left else []
        notes += [f"{cut} queue batches cut short, left on the queue"] if cut else []
        detail = "; ".join(notes)
        print(f"stopped{f' ({detail})' if detail else ''}", file=out, flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is closed and flushed by now; skip tearing down the interpreter, which after a long run
    # spends seconds freeing moto's items one by one.
    os._exit(code)
