"""The local server (`make run`) as a subprocess on free ports, always stopped at the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    def __init__(self, port: int, process: subprocess.Popen[str], log: Path | None = None) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.process = process
        self.log = log

    def log_text(self) -> str:
        assert self.log is not None
        return self.log.read_text()

    @property
    def dynamodb_endpoint(self) -> str:
        """The server's embedded DynamoDB, from its banner."""
        line = next(x for x in self.log_text().splitlines() if x.startswith("embedded DynamoDB"))
        return line.split(" on ", 1)[1].split(";", 1)[0]


def start_server(log: Path, *args: str, port: int | None = None) -> LocalServer:
    """`python -m local.server` on a free port (or `port`), in its own process group, ready to answer."""
    port = port or free_port()
    offset = log.stat().st_size if log.exists() else 0  # a restart appends to the same log
    with log.open("a") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.server", "--port", str(port), *args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + 30
    while "payments API on" not in log.read_text()[offset:]:
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(process)
            raise RuntimeError(f"local server did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return LocalServer(port, process, log)


def stop_server(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("w") as out:
        # The command `make run` runs, on a free port, in its own process group so nothing outlives the tests.
        process = subprocess.Popen(
            [sys.executable, "-m", "local.server", "--port", str(port), "--slow-seconds", "1"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"local server did not start:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield LocalServer(port, process, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
