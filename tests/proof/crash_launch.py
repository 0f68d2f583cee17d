"""Starts tests/proof/crashing_invoker.py in a process of its own and checks it was hard-stopped: the one
launcher the fault suites share."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HARD_STOP = 137  # os._exit(137): what a Lambda timeout or an out-of-memory kill looks like to the code


def run_until_hard_stop(
    event: dict[str, Any], env: dict[str, str], timeout_s: int = 120
) -> subprocess.CompletedProcess[str]:
    """One invocation of `event` under `env` (the PROOF_* settings on top of this process's environment);
    fails unless it stopped at its boundary, showing what it answered instead if it did."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.proof.crashing_invoker"],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), **env},
        timeout=timeout_s,
        check=False,
    )
    answer = Path(env["PROOF_ANSWER"])
    answered = answer.read_text() if answer.exists() else None
    assert done.returncode == HARD_STOP, f"exit {done.returncode}, answered {answered}\n{done.stderr[-3000:]}"
    return done
