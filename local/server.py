"""`make run`: the API on http://127.0.0.1:3000 without Docker or an AWS account.

Each HTTP request becomes the API Gateway REST proxy event `sam local start-api` would build and
is handed to the real handler in-process; requests are served concurrently, one thread each.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .events import LOCAL_MERCHANT, MERCHANT_HEADER, build_event, match_route
from .runtime import LocalRuntime

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
PROBLEM_BASE = "urn:idempotent-payments:problem:"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # a burst of simultaneous connections is queued, not reset
    runtime: LocalRuntime
    log = sys.stdout


def _problem(status: int, slug: str, title: str, detail: str) -> tuple[int, dict[str, list[str]], bytes]:
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    return status, {"Content-Type": ["application/problem+json"]}, json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # replaced by one line per request in _serve

    def _serve(self) -> None:
        started = time.perf_counter()
        status, headers, body = self._dispatch()
        self.send_response(status)
        for name, values in headers.items():
            for value in values:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        replayed = "replayed" if headers.get("Idempotent-Replayed") == ["true"] else ""
        ms = (time.perf_counter() - started) * 1000
        print(f"{self.command} {self.path} {status} {ms:.1f}ms {replayed}".rstrip(), file=self.server.log, flush=True)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method with no do_X itself (501, HTML); route it like the others (405/404).
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _read_chunked(self, limit: int) -> bytes | None:
        """The body of a Transfer-Encoding: chunked request, or None once it exceeds `limit`."""
        body = bytearray()
        while size := int(self.rfile.readline(65537).split(b";")[0].strip(), 16):
            if size < 0 or len(body) + size > limit:
                return None
            body += self.rfile.read(size)
            self.rfile.readline(65537)  # the CRLF after each chunk
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return bytes(body)

    def _read_body(self) -> bytes | tuple[int, dict[str, list[str]], bytes]:
        """The request body, or the problem refusing it (API Gateway's answers); a refusal closes the connection."""
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        declared = (self.headers.get("Content-Length") or "0").strip()
        if not chunked and not declared.isdigit():
            self.close_connection = True
            return _problem(400, "malformed-body", "Bad request", "Content-Length is not a number of bytes")
        try:
            raw = self._read_chunked(MAX_BODY_BYTES) if chunked else None
        except ValueError:
            self.close_connection = True
            return _problem(400, "malformed-body", "Bad request", "A chunk size is not hexadecimal")
        if not chunked and int(declared) <= MAX_BODY_BYTES:
            raw = self.rfile.read(int(declared)) if int(declared) else b""
        if raw is None:
            self.close_connection = True
            return _problem(413, "payload-too-large", "Request body too large", "API Gateway accepts at most 10 MB")
        return raw

    def _dispatch(self) -> tuple[int, dict[str, list[str]], bytes]:
        raw = self._read_body()
        if isinstance(raw, tuple):
            return raw
        url = urlsplit(self.path)
        resource, path_parameters, path_known = match_route(self.command, url.path)
        if resource is None:
            if path_known:
                return _problem(405, "method-not-allowed", "Method not allowed", f"{self.command} is not allowed here")
            return _problem(404, "not-found", "Not found", f"No route for {url.path}")
        merchant = self.headers.get(MERCHANT_HEADER, LOCAL_MERCHANT) or None
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
        try:
            response = self.server.runtime.invoke(event)
        except Exception as error:  # the handler itself should never raise; show it if it does
            print(f"handler raised {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            return _problem(502, "bad-gateway", "Handler failed", "The function raised instead of answering")
        return _to_http(response)


def _to_http(response: dict[str, Any]) -> tuple[int, dict[str, list[str]], bytes]:
    headers: dict[str, list[str]] = {}
    for name, value in (response.get("headers") or {}).items():
        headers[name] = [str(value)]
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = [str(v) for v in values]
    body = response.get("body") or ""
    data = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    return int(response.get("statusCode", 502)), headers, data


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the payments API locally (no Docker, no AWS)")
    parser.add_argument("--port", type=int, default=3000, help="API port (default 3000)")
    parser.add_argument("--dynamodb-port", type=int, default=0, help="embedded DynamoDB port (default: any free)")
    parser.add_argument("--slow-seconds", type=float, default=None, help="tok_slow delay (default from settings: 3)")
    args = parser.parse_args(argv)
    overrides = {"SANDBOX_SLOW_SECONDS": str(args.slow_seconds)} if args.slow_seconds is not None else {}
    try:
        server = _Server(("127.0.0.1", args.port), _Handler)
    except OSError as error:
        print(f"error: cannot listen on 127.0.0.1:{args.port} ({error.strerror}); try --port", file=sys.stderr)
        return 2
    out = sys.stdout
    server.log = out
    signal.signal(signal.SIGTERM, _interrupt)
    # Function logs and EMF metrics go to stderr, like `sam local`; stdout keeps one line per request.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            runtime = LocalRuntime(args.dynamodb_port, overrides).start()
        except OSError as error:
            server.server_close()
            print(f"error: cannot start embedded DynamoDB: {error}", file=sys.stderr)
            return 2
        server.runtime = runtime
        host, port = server.server_address[:2]
        base = f"http://{host!s}:{port}"
        banner = (
            f"embedded DynamoDB (moto, serialized) on {runtime.dynamodb.endpoint}; tables {runtime.table_names}",
            f"payments API on {base}  (local-only merchant header: {MERCHANT_HEADER}, default {LOCAL_MERCHANT})",
            "try:",
            f"  curl -i -X POST {base}/payments -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' "
            """-d '{"amount":1000,"currency":"USD","source":"tok_visa"}'""",
            "Ctrl-C stops everything.",
        )
        try:  # the banner too: a Ctrl-C right after its last line must still stop cleanly
            for line in banner:
                print(line, file=out, flush=True)
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            runtime.stop()
            print("stopped", file=out, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
