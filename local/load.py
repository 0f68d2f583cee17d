"""`make load`: locust, headless, against a fresh local server on 127.0.0.1, in bounded phases.

Runs in its own venv (.venv-load: locust and gevent), and starts `python -m local.server` with the run
venv's Python on a free port. Every phase has a request budget and a time limit. Reports requests/s,
p50, p99, errors and 503s per phase, then the issue's targets as side-by-side ratios of one run:
a keep-alive client against a fresh-connection client, latency after N stored payments against the
first 100, and 48 concurrent connections with a 10 s client timeout. Every 201 is checked against the
request it answers (merchant's amount and currency); an answer about another request is an error.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import gevent
from locust import FastHttpUser, constant, task
from locust.env import Environment
from locust.exception import StopUser

ROOT = Path(__file__).resolve().parent.parent
CURRENCIES = ("USD", "EUR", "GBP", "JPY")


@dataclass
class Phase:
    name: str
    users: int
    budget: int  # requests
    keep_alive: bool = True
    timeout: float = 10.0
    samples: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    wrong: int = 0
    errors: int = 0
    seconds: float = 0.0

    def p(self, q: float) -> float:
        if not self.samples:
            return float("nan")
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def rps(self) -> float:
        return len(self.samples) / self.seconds if self.seconds else 0.0


def _user_class(phase: Phase, base: str) -> type:
    tickets = itertools.count()

    class Payer(FastHttpUser):  # type: ignore[misc]
        host = base
        wait_time = constant(0)
        network_timeout = phase.timeout
        connection_timeout = phase.timeout

        def on_start(self) -> None:
            self.merchant = f"arn:aws:iam::000000000000:user/load-{uuid.uuid4().hex[:10]}"

        @task
        def pay(self) -> None:
            ticket = next(tickets)
            if ticket >= phase.budget:
                raise StopUser
            amount, currency = 100 + ticket, CURRENCIES[ticket % len(CURRENCIES)]
            headers = {
                "Content-Type": "application/json",
                "Idempotency-Key": f"load-{uuid.uuid4().hex}",
                "X-Merchant-Id": self.merchant,
            }
            if not phase.keep_alive:
                headers["Connection"] = "close"
            body = json.dumps({"amount": amount, "currency": currency, "source": "tok_visa"})
            started = time.perf_counter()
            with self.client.post("/payments", data=body, headers=headers, catch_response=True) as response:
                elapsed = (time.perf_counter() - started) * 1000
                status = response.status_code
                phase.statuses[str(status) if status else "no answer"] += 1  # 0: timeout or connection error
                if status != 201:
                    phase.errors += 1
                    response.failure(f"status {status}")
                    return
                answer = json.loads(response.content)
                if (answer.get("amount"), answer.get("currency")) != (amount, currency):
                    phase.wrong += 1
                    phase.errors += 1
                    response.failure("an answer about another request")
                    return
                phase.samples.append(elapsed)

    return Payer


def run_phase(phase: Phase, base: str, limit_seconds: float) -> Phase:
    environment = Environment(user_classes=[_user_class(phase, base)])
    runner = environment.create_local_runner()
    started = time.perf_counter()
    runner.start(phase.users, spawn_rate=phase.users)
    deadline = started + limit_seconds
    while sum(phase.statuses.values()) < phase.budget and time.perf_counter() < deadline:
        gevent.sleep(0.05)
    phase.seconds = time.perf_counter() - started
    runner.quit()
    return phase


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server(python: str, concurrency: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own server, on 127.0.0.1
            [python, "-m", "local.server", "--port", str(port), "--concurrency", str(concurrency)],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start within 60 s")


def _row(phase: Phase) -> str:
    other = {k: v for k, v in phase.statuses.items() if k != "201"}
    return (
        f"{phase.name:<44} {sum(phase.statuses.values()):>6} {phase.rps:>7.1f} {phase.p(0.5):>7.1f} "
        f"{phase.p(0.99):>7.1f} {phase.errors:>6} {phase.statuses.get('503', 0):>5}  {dict(other) or ''}"
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _stop(process: subprocess.Popen[bytes]) -> float:
    """Stop the server; the seconds it took."""
    stopping = time.perf_counter()
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
    return time.perf_counter() - stopping


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--server-python", default=sys.executable, help="Python of the run venv (.venv/bin/python)")
    parser.add_argument("--payments", type=int, default=10_000, help="payments stored before the 'after' phase")
    parser.add_argument("--sample", type=int, default=200, help="requests per single-client phase (default 200)")
    parser.add_argument("--fill-users", type=int, default=8, help="concurrent clients while filling (default 8)")
    parser.add_argument("--concurrency", type=int, default=4, help="the server's execution environments")
    parser.add_argument("--phase-seconds", type=float, default=60, help="time limit of each phase (default 60)")
    parser.add_argument("--fill-seconds", type=float, default=150, help="time limit of the fill (default 150)")
    args = parser.parse_args(argv)
    log = Path(tempfile.mkdtemp(prefix="load-")) / "server.log"
    process, base = _start_server(args.server_python, args.concurrency, log)
    limit = args.phase_seconds
    try:
        print(f"load on {base} ({os.cpu_count()} CPUs, Python {platform.python_version()}); server log {log}")
        run_phase(Phase("warm-up (cold starts, not reported)", args.concurrency, 4 * args.concurrency), base, limit)
        first = run_phase(Phase("first payments: 1 client, keep-alive", 1, args.sample), base, limit)
        fresh = run_phase(Phase("1 client, a fresh connection per request", 1, args.sample, False), base, limit)
        kept = run_phase(Phase("1 client, keep-alive", 1, args.sample), base, limit)
        stored = 4 * args.concurrency + 3 * args.sample
        fill_budget = max(0, args.payments - stored)
        fill_phase = Phase(f"fill: {args.fill_users} clients, keep-alive", args.fill_users, fill_budget)
        fill = run_phase(fill_phase, base, args.fill_seconds)
        stored += sum(fill.statuses.values())
        after = run_phase(Phase(f"after {stored:,} payments: 1 client, keep-alive", 1, args.sample), base, limit)
        burst = run_phase(Phase("48 connections, 10 s client timeout", 48, 48 * 12, timeout=10.0), base, limit)
    finally:
        stop_seconds = _stop(process)
    shutil.rmtree(log.parent, ignore_errors=True)  # reached only when no phase raised: then the log is kept to read
    phases = [first, fresh, kept, fill, after, burst]
    print(f"\n{'phase':<44} {'reqs':>6} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'503s':>5}")
    for phase in phases:
        print(_row(phase))
    keep_ratio = kept.p(0.5) / fresh.p(0.5)
    growth = after.p(0.5) / first.p(0.5)
    wrong = sum(phase.wrong for phase in phases)
    print("\ntargets (ratios of this run):")
    print(
        f"  keep-alive p50 / fresh-connection p50: {kept.p(0.5):.1f} / {fresh.p(0.5):.1f} ms = {keep_ratio:.2f}x "
        f"(target <= 1.3x): {_verdict(keep_ratio <= 1.3)}"
    )
    print(
        f"  p50 after {stored:,} payments / first {args.sample}: {after.p(0.5):.1f} / {first.p(0.5):.1f} ms = "
        f"{growth:.2f}x (target <= 1.2x{'' if stored >= 10_000 else ', measured below 10,000'}): "
        f"{_verdict(growth <= 1.2)}"
    )
    print(
        f"  48 connections, 10 s timeout: {burst.errors} errors, {burst.statuses.get('503', 0)} 503s "
        f"(target 0 and 0): {_verdict(burst.errors == 0)}"
    )
    print(f"  answers about another request: {wrong} (target 0): {_verdict(wrong == 0)}")
    print(f"  the server stopped {stop_seconds:.1f} s after SIGTERM (exit code {process.returncode})")
    print(f"  all phases: {sum(p.errors for p in phases)} errors in {sum(sum(p.statuses.values()) for p in phases)}")
    return 0 if wrong == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
