"""One structured log line and one metric per request outcome. Never card data or raw keys."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ..domain.processor import InvalidPaymentSource
from ..idempotency.errors import KeyInUse, KeyReused, TemporarilyUnavailable

logger = Logger()
metrics = Metrics()

_OUTCOME_OF: dict[type[Exception], str] = {
    KeyInUse: "conflict",
    KeyReused: "mismatch",
    TemporarilyUnavailable: "released",
    InvalidPaymentSource: "rejected",  # a client error, the key forgotten: not an ERROR log
}


@dataclass
class Observation:
    outcome: str = "error"
    extra: dict[str, object] = field(default_factory=dict)


@contextmanager
def observe(merchant: str, key_hash: str) -> Iterator[Observation]:
    """Log merchant, key hash, outcome and latency however the request ends."""
    started = time.perf_counter()
    observation = Observation()
    try:
        yield observation
    except Exception as error:
        observation.outcome = _OUTCOME_OF.get(type(error), "error")
        raise
    finally:
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        log = logger.error if observation.outcome == "error" else logger.info
        fields = {"merchant": merchant, "idempotency_key_hash": key_hash, "outcome": observation.outcome}
        log("payment request", extra={**fields, "latency_ms": latency_ms, **observation.extra})
        metrics.add_metric(name=f"Payment{observation.outcome.capitalize()}", unit=MetricUnit.Count, value=1)
