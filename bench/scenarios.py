"""Ours and both baselines, call for call, in one process against one DynamoDB: round trips and latency.

DynamoDB calls are counted at each client with botocore event hooks, per thread, so a request held
inside the processor on another thread never pollutes the count of the request being measured.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from local.events import build_event
from local.lambda_context import LocalLambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
LAMBDA_TIMEOUT_S = 20


@dataclass
class Calls:
    operations: list[str] = field(default_factory=list)
    attempts: int = 0  # HTTP sends, retries included
    durations_ms: list[float] = field(default_factory=list)  # per call, as the client saw it
    call_started: float = 0.0


class CallLog:
    """botocore hooks on each client, per thread: API calls (before-call), their time (to after-call),
    and HTTP attempts (before-send)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def attach(self, client: Any, name: str) -> None:
        client.meta.events.register("before-call.dynamodb", self._on_call, unique_id=f"bench-call-{name}")
        client.meta.events.register("before-send.dynamodb", self._on_send, unique_id=f"bench-send-{name}")
        client.meta.events.register("after-call.dynamodb", self._on_done, unique_id=f"bench-done-{name}")

    def _current(self) -> Calls | None:
        return getattr(self._local, "calls", None)

    def _on_call(self, model: Any, **_: Any) -> None:
        if (calls := self._current()) is not None:
            calls.operations.append(model.name)
            calls.call_started = time.perf_counter()

    def _on_done(self, **_: Any) -> None:
        if (calls := self._current()) is not None:
            calls.durations_ms.append((time.perf_counter() - calls.call_started) * 1000)

    def _on_send(self, **_: Any) -> None:
        if (calls := self._current()) is not None:
            calls.attempts += 1

    @contextmanager
    def capture(self) -> Iterator[Calls]:
        calls = Calls()
        self._local.calls = calls
        try:
            yield calls
        finally:
            self._local.calls = None


class Gate:
    """The sandbox's `sleep` for tok_slow: holds a request inside the processor until released (no real sleep)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def arm(self) -> None:
        self.entered.clear()
        self.released.clear()

    def __call__(self, seconds: float) -> None:
        self.entered.set()
        self.released.wait(timeout=max(seconds, 30.0))


@dataclass(frozen=True)
class Outcome:
    status: int
    body: str
    wall_ms: float
    cpu_ms: float  # time.process_time: the whole handler process (DynamoDB runs in another process)
    operations: tuple[str, ...]
    attempts: int
    dynamodb_ms: tuple[float, ...] = ()


@dataclass
class Impl:
    name: str
    handler: Handler
    calls: CallLog
    before: Callable[[], None] = lambda: None  # e.g. swap our dependencies in
    byte_identical_replays: bool = True  # False: a replay must be the same JSON, not necessarily the same bytes

    def same_answer(self, first: Outcome, replay: Outcome) -> bool:
        if first.body == replay.body:
            return True
        if self.byte_identical_replays:
            return False
        try:
            return bool(json.loads(first.body) == json.loads(replay.body))
        except ValueError:
            return False

    def call(self, event: dict[str, Any]) -> Outcome:
        self.before()
        context = LocalLambdaContext(LAMBDA_TIMEOUT_S)
        with self.calls.capture() as calls:
            cpu, wall = time.process_time(), time.perf_counter()
            response = self.handler(event, context)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return Outcome(
            status=int(response["statusCode"]),
            body=str(response.get("body") or ""),
            wall_ms=wall * 1000,
            cpu_ms=cpu * 1000,
            operations=tuple(calls.operations),
            attempts=calls.attempts,
            dynamodb_ms=tuple(calls.durations_ms),
        )


class Requests:
    """API Gateway REST events from local.events.build_event, one merchant per run, a fresh key per first request."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.merchant = f"arn:aws:iam::111111111111:user/bench-{run_id}"
        self._count = 0

    def new_key(self) -> str:
        self._count += 1
        return f"bench-{self.run_id}-{self._count}-{uuid.uuid4().hex[:8]}"

    def post(self, key: str, source: str = "tok_visa", amount: int = 1999) -> dict[str, Any]:
        body = {
            "amount": amount,
            "currency": "USD",
            "source": source,
            "description": "Benchmark order",
            "metadata": {"order": key[-16:], "channel": "bench"},
        }
        headers = {"Content-Type": "application/json", "Idempotency-Key": key, "User-Agent": "bench"}
        return build_event("POST", "/payments", headers, body=json.dumps(body).encode(), merchant=self.merchant)

    def get(self, payment_id: str) -> dict[str, Any]:
        return build_event(
            "GET",
            f"/payments/{payment_id}",
            {"User-Agent": "bench"},
            resource="/payments/{payment_id}",
            path_parameters={"payment_id": payment_id},
            merchant=self.merchant,
        )


# ---- round trips per scenario -------------------------------------------------------------------

EXPECTED_STATUS = {
    "first": 201,
    "replay": 201,
    "in_flight": 409,
    "mismatch": 422,
    "decline": 402,
    "transient": 503,
    "get": 200,
    "replay_cached": 201,
}
TARGET_CALLS = {"first": 2, "replay": 1, "in_flight": 1, "mismatch": 1, "decline": 2, "transient": 2, "get": 1}
TARGET_CALLS["replay_cached"] = 0


class ScenarioError(Exception):
    """A request did not answer as the API promises: the benchmark's figures would be meaningless."""


def _expect(outcome: Outcome, status: int, what: str) -> Outcome:
    if outcome.status != status:
        raise ScenarioError(f"{what}: expected {status}, got {outcome.status}: {outcome.body[:200]}")
    return outcome


def _first(impl: Impl, req: Requests, gate: Gate) -> Outcome:
    return impl.call(req.post(req.new_key()))


def _replay(impl: Impl, req: Requests, gate: Gate) -> Outcome:
    key = req.new_key()
    first = _expect(impl.call(req.post(key)), 201, f"{impl.name} replay setup")
    again = impl.call(req.post(key))
    if not impl.same_answer(first, again):
        raise ScenarioError(f"{impl.name}: a replay answered a different body")
    return again


def _in_flight(impl: Impl, req: Requests, gate: Gate) -> Outcome:
    key = req.new_key()
    gate.arm()
    held: list[Outcome] = []
    first = threading.Thread(target=lambda: held.append(impl.call(req.post(key, "tok_slow"))), daemon=True)
    first.start()
    if not gate.entered.wait(timeout=30):
        raise ScenarioError(f"{impl.name}: the first request never reached the processor")
    try:
        duplicate = impl.call(req.post(key, "tok_slow"))
    finally:
        gate.released.set()
        first.join(timeout=30)
    if not held or held[0].status != 201:
        raise ScenarioError(f"{impl.name}: the held first request did not complete with 201: {held}")
    return duplicate


def _mismatch(impl: Impl, req: Requests, gate: Gate) -> Outcome:
    key = req.new_key()
    _expect(impl.call(req.post(key)), 201, f"{impl.name} mismatch setup")
    return impl.call(req.post(key, amount=2999))


def _decline(impl: Impl, req: Requests, gate: Gate) -> Outcome:
    return impl.call(req.post(req.new_key(), "tok_chargeDeclined"))


def _transient(impl: Impl, req: Requests, gate: Gate) -> Outcome:
    return impl.call(req.post(req.new_key(), "tok_processingError"))


def _get(impl: Impl, req: Requests, gate: Gate) -> Outcome:
    created = _expect(impl.call(req.post(req.new_key())), 201, f"{impl.name} get setup")
    return impl.call(req.get(json.loads(created.body)["id"]))


SCENARIOS: dict[str, Callable[[Impl, Requests, Gate], Outcome]] = {
    "first": _first,
    "replay": _replay,
    "in_flight": _in_flight,
    "mismatch": _mismatch,
    "decline": _decline,
    "transient": _transient,
    "get": _get,
    "replay_cached": _replay,
}


def count_calls(
    impls: list[Impl], cached: list[Impl], req: Requests, gate: Gate, repeats: int
) -> dict[str, dict[str, Any]]:
    """Each scenario `repeats` times per implementation, rotating which goes first."""
    seen: dict[str, dict[str, list[Outcome]]] = {name: {} for name in SCENARIOS}
    for repeat in range(repeats):
        for scenario, run in SCENARIOS.items():
            pool = cached if scenario == "replay_cached" else impls
            for impl in rotated(pool, repeat):
                outcome = _expect(run(impl, req, gate), EXPECTED_STATUS[scenario], f"{impl.name} {scenario}")
                seen[scenario].setdefault(_label(impl), []).append(outcome)
    return {
        scenario: {
            "target_ours": TARGET_CALLS[scenario],
            "status": EXPECTED_STATUS[scenario],
            **{label: _summarise_calls(outcomes) for label, outcomes in by_impl.items()},
        }
        for scenario, by_impl in seen.items()
    }


def rotated(pool: list[Impl], turn: int) -> list[Impl]:
    """The pool starting at its (turn mod n)th member: each implementation takes each position in turn."""
    start = turn % len(pool)
    return [*pool[start:], *pool[:start]]


def _label(impl: Impl) -> str:
    return impl.name.removesuffix("_cached")


def _summarise_calls(outcomes: list[Outcome]) -> dict[str, Any]:
    counts = sorted({len(o.operations) for o in outcomes})
    return {
        "calls": counts[0] if len(counts) == 1 else counts,  # a list means it varied: worth a look
        "operations": list(outcomes[0].operations),
        "http_attempts": max(o.attempts for o in outcomes),
    }


# ---- latency and CPU ----------------------------------------------------------------------------


@dataclass
class Samples:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    outside_dynamodb_ms: list[float] = field(default_factory=list)  # wall time minus time inside DynamoDB calls
    calls: Counter[int] = field(default_factory=Counter)
    per_operation_ms: dict[str, list[float]] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        self.wall_ms.append(outcome.wall_ms)
        self.cpu_ms.append(outcome.cpu_ms)
        self.outside_dynamodb_ms.append(outcome.wall_ms - sum(outcome.dynamodb_ms))
        self.calls[len(outcome.operations)] += 1
        for operation, ms in zip(outcome.operations, outcome.dynamodb_ms, strict=False):
            self.per_operation_ms.setdefault(operation, []).append(ms)


def measure_latency(
    impls: list[Impl],
    cached: list[Impl],
    req: Requests,
    iterations: int,
    cached_iterations: int,
    warmup: int,
    between: Callable[[], object] = lambda: None,
) -> dict[str, dict[str, Samples]]:
    """First requests and replays, interleaved call for call; the order rotates every iteration.

    `between` runs after each iteration, outside the timed calls (the bench empties the tables there).
    """
    samples: dict[str, dict[str, Samples]] = {"first": {}, "replay": {}, "replay_cached": {}}
    for i in range(warmup + iterations):
        rows = [("first", "replay", impls)]
        if i < warmup + cached_iterations:
            rows.append(("", "replay_cached", cached))  # the cached variant's first requests are not reported
        for first_label, replay_label, pool in rows:
            order = rotated(pool, i)
            keys = {impl.name: req.new_key() for impl in order}
            firsts = {impl.name: _expect(impl.call(req.post(keys[impl.name])), 201, impl.name) for impl in order}
            replays = {impl.name: _expect(impl.call(req.post(keys[impl.name])), 201, impl.name) for impl in order}
            for impl in order:
                if not impl.same_answer(firsts[impl.name], replays[impl.name]):
                    raise ScenarioError(f"{impl.name}: a replay answered a different body")
                if i < warmup:
                    continue
                if first_label:
                    samples[first_label].setdefault(_label(impl), Samples()).add(firsts[impl.name])
                samples[replay_label].setdefault(_label(impl), Samples()).add(replays[impl.name])
        between()
    return samples
