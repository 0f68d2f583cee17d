"""`pip install .` alone gives working tools: a fresh venv from the declared dependencies only (from the
package index, as `make` installs), then each command's --help and one real command against a local server.
An import the pyproject does not declare fails here, not on a newcomer's machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, start_server, stop_server

INSTALL_SECONDS = 600  # the whole dependency set from the index, on a slow day
SOURCES = ("pyproject.toml", "src/payments_service", "tools", "local")


def run(*command: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    # Nothing of this checkout's venv leaks in: no PYTHONPATH, and the tools run from the fresh venv's bin.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with `pip install .` of a copy of the project (the checkout stays clean of build files)."""
    base = tmp_path_factory.mktemp("fresh")
    project = base / "project"
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            project.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, project / name)
    venv = base / "venv"
    created = run(sys.executable, "-m", "venv", venv, cwd=base)
    assert created.returncode == 0, created.stderr
    installed = run(
        venv / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check", project,
        cwd=base, timeout=INSTALL_SECONDS,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv / "bin"


@pytest.mark.parametrize("tool", ["idempotency-check", "payments-admin"])
def test_each_tool_answers_help(fresh: Path, tool: str) -> None:
    done = run(fresh / tool, "--help", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert tool in done.stdout and "Traceback" not in done.stderr


def test_each_tool_runs_a_real_command_against_make_run(fresh: Path, tmp_path: Path) -> None:
    server = start_server(tmp_path / "server.log", "--slow-seconds", "1")
    try:
        checked = run(fresh / "idempotency-check", server.base, "--local", "--json", cwd=ROOT, timeout=300)
        assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
        report = json.loads(checked.stdout)
        assert report, checked.stdout
        # A payment through the API, then its key through payments-admin, which finds the server by itself.
        key = f"fresh-{uuid.uuid4().hex[:8]}"
        import payments_client as pc

        with pc.Client(server.base) as client:
            client.create_payment(amount=1000, currency="USD", source="tok_visa", idempotency_key=key)
        merchant = "arn:aws:iam::000000000000:user/local-merchant"
        shown = run(
            fresh / "payments-admin", "--port", str(server.port), "key", "show", "--merchant", merchant,
            "--key", key, "--json", cwd=ROOT,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["status"] == "COMPLETED"
    finally:
        stop_server(server.process)


def test_the_client_installs_alone(tmp_path: Path) -> None:
    """`pip install ./client`: httpx and nothing of the server's code; SigV4 says which extra it needs."""
    shutil.copytree(ROOT / "client", tmp_path / "client", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", venv, cwd=tmp_path).returncode == 0
    installed = run(
        venv / "bin" / "pip", "install", "--quiet", tmp_path / "client", cwd=tmp_path, timeout=INSTALL_SECONDS
    )
    assert installed.returncode == 0, installed.stderr
    probe = (
        "import importlib.util, payments_client as pc\n"
        "assert importlib.util.find_spec('payments_service') is None and importlib.util.find_spec('botocore') is None\n"
        "c = pc.Client('http://127.0.0.1:9'); c.close()\n"
        "try:\n    pc.SigV4()\nexcept ImportError as e:\n    print(e)\n"
    )
    done = run(venv / "bin" / "python", "-c", probe, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "idempotent-payments-client[iam]" in done.stdout
