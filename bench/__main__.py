"""`python -m bench [--smoke] [--chart]`: ours vs two Powertools baselines, one run, one embedded DynamoDB.

The baselines: "app" (bench/baseline_app.py), the same API built the way the Powertools docs show it, which the
issue's targets are judged against; "minimal" (bench/baseline_handler.py), hand-routed, the lowest bound.

Figures are printed and written as JSON, never asserted. The exit status says only whether the run worked
(every request answered as the API promises).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs"


@dataclass(frozen=True)
class Plan:
    iterations: int  # first requests and replays measured, per implementation
    cached_iterations: int  # replays with the in-memory cache on, per implementation
    warmup: int
    repeats: int  # of each round-trip scenario
    cold_runs: int  # fresh processes per implementation
    cold_runs_without_bytecode: int
    inflight_samples: int  # in-flight duplicates timed to their final answer, per configuration (real sleeps)


FULL = Plan(
    iterations=2000,
    cached_iterations=500,
    warmup=50,
    repeats=5,
    cold_runs=15,
    cold_runs_without_bytecode=7,
    inflight_samples=15,
)
SMOKE = Plan(
    iterations=60,
    cached_iterations=20,
    warmup=5,
    repeats=1,
    cold_runs=2,
    cold_runs_without_bytecode=0,
    inflight_samples=2,
)


def _console() -> TextIO:
    """Our own stdout; fd 1 then goes to /dev/null, where both handlers' JSON logs and EMF metrics land."""
    sys.stdout.flush()
    console = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    return console


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _versions() -> dict[str, str]:
    names = ("aws-lambda-powertools", "aws-xray-sdk", "boto3", "botocore", "moto", "pydantic")
    return {name: metadata.version(name) for name in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="CI mode: a few hundred calls, no PNG, no docs")
    parser.add_argument("--chart", action="store_true", help="also write docs/bench.png and docs/performance.md")
    parser.add_argument("--iterations", type=int, help="override the number of measured first requests/replays")
    parser.add_argument(
        "--report", type=Path, metavar="JSON", help="re-render table, chart and docs from a results file"
    )
    args = parser.parse_args(argv)
    if args.report:
        publish(json.loads(args.report.read_text()), write_docs=True, out=sys.stdout, save=False)
        return 0
    plan = SMOKE if args.smoke else FULL
    if args.iterations:
        plan = Plan(**{**plan.__dict__, "iterations": args.iterations})
    mode = "smoke" if args.smoke else "full"
    out = _console()
    try:
        results = run(plan, mode, out)
    except Exception as error:  # the run did not work: say why, exit non-zero
        from .scenarios import ScenarioError

        print(f"\nbench failed: {type(error).__name__}: {error}", file=out)
        if not isinstance(error, ScenarioError):
            raise
        return 1
    publish(results, write_docs=args.chart or not args.smoke, out=out)
    return 0


def run(plan: Plan, mode: str, out: TextIO) -> dict[str, Any]:
    import boto3

    from local.runtime import FAKE_CREDENTIALS, local_environment

    from . import artifact, coldstart, completions, implementations, inflight, items
    from .dynamodb import DynamoDBProcess, Janitor, create_tables
    from .scenarios import CallLog, Gate, Requests, count_calls, measure_latency
    from .stats import summary

    started = time.perf_counter()
    results: dict[str, Any] = {
        "mode": mode,
        "command": "python -m bench" + (" --smoke" if mode == "smoke" else ""),
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "plan": plan.__dict__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": _versions(),
        "machine": {"cpu_count": os.cpu_count(), "load_start": _load()},
    }
    print(f"bench ({mode}): {os.cpu_count()} CPUs, load average {results['machine']['load_start']}", file=out)
    phases: dict[str, float] = {}

    def phase(name: str, since: float) -> float:
        now = time.perf_counter()
        phases[name] = round(now - since, 1)
        print(f"  {name}: {phases[name]} s", file=out)
        return now

    os.environ.update(FAKE_CREDENTIALS)
    with DynamoDBProcess() as db:
        client = boto3.client("dynamodb", endpoint_url=db.endpoint, region_name="us-east-1")
        names = create_tables(client)
        os.environ.update(local_environment(db.endpoint, names))
        os.environ["BASELINE_IDEMPOTENCY_TABLE_NAME"] = names["BaselineIdempotencyTable"]
        # As template.yaml sets it when tracing is off: the app baseline's Tracer sends nothing (ours loads none).
        os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
        # Set by Lambda. Without it the X-Ray SDK (imported by the app baseline's Tracer) takes its off-Lambda
        # path and builds a botocore X-Ray client at import, ~70 ms a cold start on Lambda never pays.
        os.environ["LAMBDA_TASK_ROOT"] = str(ROOT / "src")
        janitor = Janitor(client, names)
        calls, gate = CallLog(), Gate()
        impls, cached = implementations.build(calls, gate)
        req = Requests(uuid.uuid4().hex[:8])
        mark = phase("setup", started)

        results["calls"] = count_calls(impls, cached, req, gate, plan.repeats)
        results["item_bytes_max"] = items.largest_items(
            client,
            {
                "ours: idempotency record": (names["IdempotencyTable"], ""),
                "payment": (names["PaymentsTable"], ""),
                "app: idempotency record": (names["BaselineIdempotencyTable"], ".baseline_app."),
                "minimal: idempotency record": (names["BaselineIdempotencyTable"], ".baseline_handler."),
            },
        )
        janitor.sweep()
        mark = phase("round trips", mark)

        samples = measure_latency(
            impls, cached, req, plan.iterations, plan.cached_iterations, plan.warmup, between=janitor.sweep
        )
        results["latency"] = {
            request: {
                impl: {
                    "wall_ms": summary(s.wall_ms),
                    "cpu_ms": summary(s.cpu_ms),
                    "outside_dynamodb_ms": summary(s.outside_dynamodb_ms),
                    "dynamodb_call_ms": {op: summary(ms) for op, ms in s.per_operation_ms.items()},
                    "dynamodb_calls": dict(s.calls),
                    "samples_ms": [round(x, 3) for x in s.wall_ms],
                }
                for impl, s in by_impl.items()
            }
            for request, by_impl in samples.items()
        }
        mark = phase("latency", mark)

        results["completions"] = completions.measure(calls, req, max(plan.iterations // 4, 10))
        janitor.sweep()
        mark = phase("completions", mark)

        results["in_flight"] = inflight.measure(req, plan.inflight_samples)
        mark = phase("in-flight duplicates", mark)

        results["coldstart"] = coldstart.measure(req, plan.cold_runs)
        if plan.cold_runs_without_bytecode:
            results["coldstart_without_bytecode"] = coldstart.measure(
                req, plan.cold_runs_without_bytecode, without_bytecode=True
            )
        results["import_profile"] = coldstart.import_profile(req)
        mark = phase("cold start", mark)
    results["artifact"] = artifact.measure()
    results["machine"]["load_end"] = _load()
    results["duration_s"] = round(time.perf_counter() - started, 1)
    results["phases_s"] = phases
    return results


def publish(results: dict[str, Any], write_docs: bool, out: TextIO, save: bool = True) -> None:
    from . import costs, report

    cpu = {r: {i: results["latency"][r][i]["cpu_ms"]["median"] for i in report.IMPLS} for r in ("first", "replay")}
    results["aws_model"] = costs.model(cpu)
    table = report.rows(results)
    written: list[Path] = []
    if save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        written.append(RESULTS / ("smoke.json" if results["mode"] == "smoke" else "latest.json"))
        if results["mode"] == "full":
            written.append(RESULTS / "full.json")  # the committed copy of the last full run
        for path in written:
            path.write_text(json.dumps(results, indent=1) + "\n")
    print("\n" + report.text(table), file=out)
    for line in report.cold_targets(results["coldstart"]):
        print(line, file=out)
    machine = results["machine"]
    print(
        f"\nload average {machine['load_start']} -> {machine['load_end']} on {machine['cpu_count']} CPUs;"
        f" run took {results['duration_s']} s",
        file=out,
    )
    if "in_flight" in results:  # absent from results files written before issue 10
        from . import inflight

        for line in inflight.lines(results["in_flight"]):
            print(line, file=out)
    if "completions" in results:  # absent from results files written before issue 21
        from . import completions

        for line in completions.lines(results["completions"]):
            print(line, file=out)
    print("median ms per DynamoDB call (moto, at the client):", file=out)
    for line in report.per_operation(results):
        print("  " + line, file=out)
    for impl in report.IMPLS:
        top = ", ".join(f"{name} {ms:.0f}" for name, ms in results["import_profile"][impl][:6])
        print(f"import time by package, {impl} (ms, -X importtime self): {top}", file=out)
    if write_docs:
        from . import chart, docs

        chart.draw(results, DOCS / "bench.png")
        docs.write(results, table, DOCS / "performance.md")
        written += [DOCS / "bench.png", DOCS / "performance.md"]
    print("wrote " + ", ".join(str(p.relative_to(ROOT)) for p in written), file=out)
    for row in report.targets(table):
        verdicts = ", ".join(
            f"{'met' if met else 'MISSED'} vs {name} ({ratio}x)"
            for name, met, ratio in (("app", row.met, row.vs_app), ("minimal", row.met_minimal, row.vs_minimal))
        )
        print(f"target {row.target} {row.section.split(',')[0].lower()}, {row.label}: {verdicts}", file=out)
    missed = report.missed(table)
    if missed:
        print("missed against the app baseline: " + "; ".join(f"{r.section}: {r.label}" for r in missed), file=out)


if __name__ == "__main__":
    sys.exit(main())
