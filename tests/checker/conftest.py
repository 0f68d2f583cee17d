"""Fixtures for the checker's tests: the real local server as a subprocess, and a checker runner."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tools.idempotency_check.cli import main

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# No profile files and no instance metadata: botocore's credential chain can find nothing and call nobody.
NO_AWS = {"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def no_aws_environment() -> dict[str, str]:
    """This process's environment without credentials: for subprocesses."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **NO_AWS}


def scrub_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same for this process, for one test."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in NO_AWS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def run_checker(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run the checker in-process; returns (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@contextlib.contextmanager
def serving(tmp_path: Path, env: dict[str, str], *args: str) -> Iterator[str]:
    """`python -m local.server ARGS` on a free port; ready when it announces its URL; always stopped."""
    port = free_port()
    stderr = (tmp_path / "server.stderr").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "local.server", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    ready = threading.Event()
    lines: list[str] = []

    def drain() -> None:  # keeps reading so the per-request lines never fill the pipe
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("payments API on"):
                ready.set()
        ready.set()  # EOF: the server died; the check below says so

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        # The listening socket exists before that line is printed, so the line means "connect now".
        if not ready.wait(STARTUP_SECONDS) or process.poll() is not None:
            pytest.fail(f"local server did not start: {''.join(lines)}{(tmp_path / 'server.stderr').read_text()}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        reader.join(timeout=5)
        stderr.close()


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m local.server --slow-seconds 1` on a free port; always stopped."""
    with serving(tmp_path_factory.mktemp("local-server"), no_aws_environment(), "--slow-seconds", "1") as url:
        yield url


@pytest.fixture(scope="module")
def sequential_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same, its functions completing keys without a transaction (IDEMPOTENCY_COMPLETION=sequential)."""
    args = ("--slow-seconds", "1", "--completion", "sequential")
    with serving(tmp_path_factory.mktemp("sequential-server"), no_aws_environment(), *args) as url:
        yield url


# Every check the checker runs, named once for both suites (a check added or dropped must show here).
ALL_CHECKS = {
    "concurrent-duplicates",
    "replays",
    "mismatch",
    "in-flight-conflict",
    "decline-replay",
    "missing-key",
    "get-payment",
    "refund-duplicates",
    "racing-refunds",
    "over-refund",
    "problem-json",
}
