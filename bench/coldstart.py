"""Cold starts in fresh subprocesses, interleaved ours/app/minimal, against the same embedded DynamoDB."""

from __future__ import annotations

import json
import os
import shutil
import site
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from .scenarios import Requests
from .stats import ratio

ROOT = Path(__file__).resolve().parent.parent
MODULES = {"ours": "payments_service.handlers.api", "app": "bench.baseline_app", "minimal": "bench.baseline_handler"}
BASELINES = ("app", "minimal")
# Not an implementation: only the work all three share (boto3 client, pydantic model, one PutItem), for scale.
FLOOR = {"floor": "bench.coldstart_floor"}


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # As the Lambda runtime sets it (our cold start keeps the collector off until the first event there).
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "AWS_LAMBDA_FUNCTION_NAME": "PaymentsFunction",
    }
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"):
        env.pop(name, None)
    return {**env, **(extra or {})}


def _spawn(impl: str, req: Requests, workdir: Path, env: dict[str, str], flags: tuple[str, ...] = ()) -> dict[str, Any]:
    event_path, result_path = workdir / f"{impl}-event.json", workdir / f"{impl}-result.json"
    event_path.write_text(json.dumps(req.post(req.new_key())))
    result_path.unlink(missing_ok=True)
    module = {**MODULES, **FLOOR}[impl]
    command = [sys.executable, *flags, "-m", "bench.coldstart_child", module, str(event_path), str(result_path)]
    spawned, started = time.time(), time.perf_counter()
    finished = subprocess.run(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
    )
    process_ms = (time.perf_counter() - started) * 1000
    if finished.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"cold start of {impl} failed ({finished.returncode}): {finished.stderr[-2000:]}")
    sample: dict[str, Any] = json.loads(result_path.read_text())
    if sample["status"] != 201:
        raise RuntimeError(f"cold start of {impl} answered {sample['status']}, not 201")
    sample["process_ms"] = process_ms  # includes interpreter teardown, which Lambda never waits for
    # Interpreter start-up (spawn to our first line) + import + first request: what a cold start waits for.
    sample["startup_ms"] = (sample.pop("entered_epoch") - spawned) * 1000
    sample["cold_ms"] = sample["startup_ms"] + sample["total_ms"]
    sample["stderr"] = finished.stderr
    return sample


def measure(req: Requests, runs: int, *, without_bytecode: bool = False) -> dict[str, Any]:
    """Median of `runs` fresh processes per implementation, rotating which starts first."""
    samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        workdir = Path(tmp)
        env = _bytecode_free_env(workdir) if without_bytecode else _env()
        names = [*MODULES, *FLOOR]
        for impl in names:  # unrecorded: writes any missing bytecode, warms the OS file cache
            _spawn(impl, req, workdir, env)
        for run in range(runs):
            start = run % len(names)
            for impl in [*names[start:], *names[:start]]:
                sample = _spawn(impl, req, workdir, env)
                sample.pop("stderr")
                samples[impl].append(sample)
    result: dict[str, Any] = {"runs": runs, "without_bytecode": without_bytecode}
    for impl, items in samples.items():
        result[impl] = {
            f"{field}_median": round(statistics.median(s[field] for s in items), 2)
            for field in ("import_ms", "total_ms", "startup_ms", "cold_ms", "process_ms", "cpu_ms")
        }
        result[impl]["modules"] = items[0]["modules"]
        result[impl]["total_ms_samples"] = [round(s["total_ms"], 2) for s in items]
    result["ratio"] = {
        baseline: {
            field: ratio(result["ours"][f"{field}_median"], result[baseline][f"{field}_median"])
            for field in ("import_ms", "total_ms", "cold_ms")
        }
        for baseline in BASELINES
    }
    return result


def _bytecode_free_env(workdir: Path) -> dict[str, str]:
    """Like an artifact built without .pyc (no Python 3.13 at build time; /var/task is read-only): every
    shipped module compiles at every cold start.

    A private pycache prefix is warmed once, then stripped of everything the artifact ships (our code and
    the site-packages but the boto3 family the runtime provides), so the stdlib keeps its bytecode.
    """
    prefix = workdir / "pycache"
    warm = _env({"PYTHONPYCACHEPREFIX": str(prefix)})
    req = Requests("warm")
    for impl in [*MODULES, *FLOOR]:
        _spawn(impl, req, workdir, warm)
    # The prefix mirrors source paths: /x/y.py -> <prefix>/x/y.cpython-311.pyc
    runtime_provided = {"boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six"}
    for shipped in (ROOT / "src", ROOT / "bench"):
        shutil.rmtree(prefix / str(shipped).lstrip("/"), ignore_errors=True)
    for site_packages in site.getsitepackages():
        mirror = prefix / site_packages.lstrip("/")
        for cached in mirror.iterdir() if mirror.is_dir() else ():
            if cached.name.split(".")[0] in runtime_provided:
                continue
            if cached.is_dir():
                shutil.rmtree(cached, ignore_errors=True)
            else:
                cached.unlink()
    return _env({"PYTHONPYCACHEPREFIX": str(prefix), "PYTHONDONTWRITEBYTECODE": "1"})


def import_profile(req: Requests, top: int = 8) -> dict[str, list[tuple[str, float]]]:
    """`python -X importtime`, self time summed by top-level package: where a cold start goes."""
    profile: dict[str, list[tuple[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-importtime-") as tmp:
        for impl, module in MODULES.items():
            stderr = _spawn(impl, req, Path(tmp), _env(), flags=("-X", "importtime"))["stderr"]
            by_package: dict[str, float] = defaultdict(float)
            for line in stderr.splitlines():
                if not line.startswith("import time:") or "self [us]" in line:
                    continue
                self_us, _cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
                package = name.split(".")[0]
                if name == module and package == "bench":  # a baseline's module code, which builds its client
                    package = f"{module} (module code: builds its client)"
                by_package[package] += int(self_us) / 1000
            ranked = sorted(by_package.items(), key=lambda item: -item[1])
            profile[impl] = [(name, round(ms, 1)) for name, ms in ranked[:top]]
            profile[f"{impl}_total_ms"] = [("all imports", round(sum(by_package.values()), 1))]
    return profile
