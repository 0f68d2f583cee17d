"""The local HTTP server (`python -m local.server`) as a subprocess, for tests that need real sockets."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class LocalServer:
    host: str
    port: int
    dynamodb_port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def dynamodb_endpoint(self) -> str:
        return f"http://{self.host}:{self.dynamodb_port}"

    def connection(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


def _free_ports(count: int) -> list[int]:
    # All probes stay bound until every port is known, so the ports are distinct.
    probes = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _server_environment() -> dict[str, str]:
    # The server makes its own DynamoDB and tables; never let it inherit the test session's endpoint or tables.
    inherited = ("AWS_ENDPOINT_URL", "IDEMPOTENCY_", "PAYMENTS_TABLE", "SANDBOX_", "POWERTOOLS_")
    return {k: v for k, v in os.environ.items() if not k.startswith(inherited)}


def _answers(server: LocalServer) -> bool:
    connection = server.connection(timeout=2.0)
    try:
        connection.request("GET", "/payments/pay_000000000000000000000000")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


def _wait_until_ready(process: subprocess.Popen[bytes], server: LocalServer) -> None:
    # Polling a child process's socket: there is no cross-process event to wait on instead.
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local.server exited with {process.returncode}:\n{server.log.read_text()[-4000:]}")
        if _answers(server):
            return
        time.sleep(0.1)
    raise RuntimeError(f"local.server did not answer within {START_TIMEOUT_S}s:\n{server.log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """`python -m local.server` on a free port; always stopped, even when a test or the start fails."""
    log = tmp_path_factory.mktemp("local-server") / "server.log"
    api_port, dynamodb_port = _free_ports(2)
    server = LocalServer("127.0.0.1", api_port, dynamodb_port, log)
    command = [sys.executable, "-m", "local.server", "--port", str(server.port), "--slow-seconds", "0"]
    # A known DynamoDB port lets tests inspect the server's tables for traces of rejected requests.
    command += ["--dynamodb-port", str(server.dynamodb_port)]
    with log.open("wb") as sink:
        # A file, not a pipe: the server logs a JSON line per request and a full pipe would block it.
        process = subprocess.Popen(command, cwd=ROOT, env=_server_environment(), stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_until_ready(process, server)
        yield server
    finally:
        process.terminate()  # SIGTERM: the server stops the embedded DynamoDB and exits
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
