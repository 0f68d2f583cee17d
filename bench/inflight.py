"""Time to the final answer for a duplicate sent while the first request is still charging.

Two ways a duplicate gets there, side by side in one run on one DynamoDB: the client polls on the
409's Retry-After (the default, `IDEMPOTENCY_INFLIGHT_WAIT_MS=0`), or the server waits for the first
request's result (`IDEMPOTENCY_INFLIGHT_WAIT_MS`) and replays it. The processor really sleeps
(tok_slow), the client really sleeps Retry-After: this is wall-clock time a merchant would see.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from typing import Any

from local.lambda_context import LocalLambdaContext

from .scenarios import LAMBDA_TIMEOUT_S, Requests, ScenarioError
from .stats import summary

CHARGE_S = 0.8  # how long the first request spends at the processor
DUPLICATE_AFTER_S = 0.1  # when the duplicate is sent, after the first
SERVER_WAIT_MS = 3_000
POLL_MS = 50


def _client(handler: Any, event: dict[str, Any]) -> tuple[float, int, int]:
    """Retry while told to (obeying Retry-After): (ms to the final answer, its status, requests sent)."""
    started = time.perf_counter()
    for sent in range(1, 61):
        response = handler(event, LocalLambdaContext(LAMBDA_TIMEOUT_S))
        if response["statusCode"] != 409:
            return (time.perf_counter() - started) * 1000, int(response["statusCode"]), sent
        time.sleep(int(response["multiValueHeaders"]["Retry-After"][0]))
    raise ScenarioError("a duplicate never got a final answer")


def _one(handler: Any, req: Requests) -> tuple[float, int]:
    event = req.post(req.new_key(), source="tok_slow")
    first = threading.Thread(target=handler, args=(event, LocalLambdaContext(LAMBDA_TIMEOUT_S)))
    first.start()
    time.sleep(DUPLICATE_AFTER_S)
    ms, status, sent = _client(handler, event)
    first.join()
    if status != 201:
        raise ScenarioError(f"in-flight duplicate: expected a 201 replay, got {status}")
    return ms, sent


def measure(req: Requests, samples: int) -> dict[str, Any]:
    from payments_service import bootstrap
    from payments_service.handlers import api
    from payments_service.processors.sandbox import SandboxProcessor

    configs = {"client polls Retry-After": 0, f"server waits up to {SERVER_WAIT_MS} ms": SERVER_WAIT_MS}
    settings = bootstrap.settings()
    results: dict[str, Any] = {"charge_ms": CHARGE_S * 1000, "duplicate_after_ms": DUPLICATE_AFTER_S * 1000}
    for label, wait_ms in configs.items():
        changed = settings.model_copy(update={"inflight_wait_ms": wait_ms, "inflight_poll_ms": POLL_MS})
        deps = bootstrap.build(changed, processor=SandboxProcessor(slow_seconds=CHARGE_S))
        bootstrap.use(deps)
        times, requests = [], []
        with contextlib.redirect_stdout(io.StringIO()):
            for _ in range(samples):
                ms, sent = _one(api.lambda_handler, req)
                times.append(ms)
                requests.append(sent)
        results[label] = {"time_to_final_ms": summary(times), "requests_sent": summary([float(n) for n in requests])}
    bootstrap.use(None)
    return results


def lines(results: dict[str, Any]) -> list[str]:
    labels = [k for k, v in results.items() if isinstance(v, dict)]
    out = [
        f"in-flight duplicate (sent {results['duplicate_after_ms']:.0f} ms after a first request charging for "
        f"{results['charge_ms']:.0f} ms): time to its final answer"
    ]
    medians = [results[label]["time_to_final_ms"]["median"] for label in labels]
    for label, median in zip(labels, medians, strict=True):
        sent = results[label]["requests_sent"]["median"]
        out.append(f"  {label:<28} median {median:8.1f} ms, {sent:.0f} request(s)")
    if len(medians) == 2 and medians[0]:
        out.append(f"  ratio (server wait / client polling): {medians[1] / medians[0]:.3f}")
    return out
