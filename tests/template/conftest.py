"""template.yaml as written (SAM, intrinsics kept as dicts) and as the SAM transform turns it into CloudFormation."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local import template

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"


@pytest.fixture(scope="session")
def sam() -> dict[str, Any]:
    return template.load()


@pytest.fixture(scope="session")
def transformed() -> dict[str, Any]:
    # The SAM CLI's own validator, run from its venv (`make` creates it); offline, with a region set.
    assert SAM_PYTHON.exists(), (
        "run `make test` (or `make .venv-sam/.installed`): the SAM transform runs from .venv-sam"
    )
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"}
    done = subprocess.run(
        [str(SAM_PYTHON), str(Path(__file__).with_name("sam_transform.py")), str(template.TEMPLATE)],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


def of_type(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in document["Resources"].items() if res["Type"] == kind}
