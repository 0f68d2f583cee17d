"""`python -m bench.priming [--runs N]`: what SnapStart priming saves a restored copy's first request.

Fresh processes, interleaved: each imports the API handler as an init does, then either primes
(handlers/priming.py, as the before-snapshot hook does) or not, then serves one first POST /payments
against the same embedded DynamoDB. A restored copy starts where the snapshot stopped, so its first
request costs what `first_request_ms` measures after the init: primed vs unprimed, side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from .coldstart import ROOT, _env
from .scenarios import Requests


def _one(req: Requests, workdir: Path, env: dict[str, str], primed: bool) -> dict[str, Any]:
    event_path, result_path = workdir / "event.json", workdir / "result.json"
    event_path.write_text(json.dumps(req.post(req.new_key())))
    result_path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.coldstart_child", "payments_service.handlers.api"]
    command += [str(event_path), str(result_path), *(["prime"] if primed else [])]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"child failed ({done.returncode}): {done.stderr[-2000:]}")
    sample: dict[str, Any] = json.loads(result_path.read_text())
    if sample["status"] != 201:
        raise RuntimeError(f"first request answered {sample['status']}")
    return sample


def measure(req: Requests, runs: int) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {"primed": [], "unprimed": []}
    with tempfile.TemporaryDirectory(prefix="bench-priming-") as tmp:
        env = _env({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"})
        _one(req, Path(tmp), env, primed=False)  # unrecorded: bytecode and file cache
        for run in range(runs):
            for mode in ("primed", "unprimed") if run % 2 == 0 else ("unprimed", "primed"):
                samples[mode].append(_one(req, Path(tmp), env, primed=mode == "primed"))
    result: dict[str, Any] = {"runs": runs}
    for mode, items in samples.items():
        result[mode] = {
            field: round(statistics.median(s[field] for s in items), 2)
            for field in ("first_request_ms", "prime_ms", "import_ms")
        }
    result["first_request_saved_ms"] = round(
        result["unprimed"]["first_request_ms"] - result["primed"]["first_request_ms"], 2
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.priming", description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    import boto3

    from local.runtime import FAKE_CREDENTIALS, local_environment

    from .dynamodb import DynamoDBProcess, create_tables

    os.environ.update(FAKE_CREDENTIALS)
    with DynamoDBProcess() as db:
        client = boto3.client("dynamodb", endpoint_url=db.endpoint, region_name="us-east-1")
        os.environ.update(local_environment(db.endpoint, create_tables(client)))
        os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
        started = time.perf_counter()
        result = measure(Requests(uuid.uuid4().hex[:8]), args.runs)
    print(f"SnapStart priming, {args.runs} fresh processes each, medians ({time.perf_counter() - started:.0f} s):")
    for mode in ("unprimed", "primed"):
        figures = result[mode]
        print(
            f"  {mode:9} first request {figures['first_request_ms']:7.1f} ms"
            f"   (init: import {figures['import_ms']:.1f} ms, priming {figures['prime_ms']:.1f} ms)"
        )
    print(f"  saved on every restored copy's first request: {result['first_request_saved_ms']:.1f} ms")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
