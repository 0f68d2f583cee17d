"""Starting and stopping `make run`: clear errors, clean Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

from tests.e2e.conftest import ROOT, free_port


def _start(port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-u", "-m", "local.server", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = _start(taken.getsockname()[1])
        _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "cannot listen on 127.0.0.1" in err and "--port" in err


def test_ctrl_c_stops_the_server_and_the_embedded_dynamodb() -> None:
    port = free_port()
    process = _start(port)
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("Ctrl-C stops"):
                break
        banner = "".join(lines)
        assert f"payments API on http://127.0.0.1:{port}" in banner and "curl -i -X POST" in banner
        dynamodb_port = int(banner.split("embedded DynamoDB (moto, serialized) on http://127.0.0.1:")[1].split(";")[0])
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 0 and "stopped" in out
        for freed in (port, dynamodb_port):
            with socket.socket() as probe:
                assert probe.connect_ex(("127.0.0.1", freed)) != 0, f"port {freed} still answers"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
