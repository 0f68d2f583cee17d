"""One structured log line and one metric for every request, however it ends. Never card data or raw keys."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()


# Every way a request or message can end; each is one metric, Payment<Outcome> (see metric_name).
OUTCOMES = (
    "created",
    "requires_action",
    "declined",
    "replayed",
    "found",
    "listed",
    "refund_created",
    "refund_refused",
    "conflict",
    "mismatch",
    "released",
    "rejected",
    "invalid",
    "unauthenticated",
    "not_found",
    "unavailable",
    "dead_lettered",
    "reference_expired",
    "processor_auth",
    "processor_idempotency",
    "refund_exceeds_payment",
    "busy",
    "event_applied",
    "event_unchanged",
    "event_ignored",
    "invalid_signature",
    "error",
)


@dataclass
class Observation:
    """What the request revealed about itself; filled in as it is served."""

    operation: str
    outcome: str = "error"
    fields: dict[str, str] = field(default_factory=dict)  # merchant, idempotency_key_hash
    started: float = field(default_factory=time.perf_counter)

    def finish(self, status: int) -> None:
        latency_ms = round((time.perf_counter() - self.started) * 1000, 2)
        log = logger.error if status >= 500 else logger.info
        log(
            "request",
            extra={"operation": self.operation, "outcome": self.outcome, "status": status, "latency_ms": latency_ms}
            | self.fields,
        )
        metrics.add_metric(name=metric_name(self.outcome), unit=MetricUnit.Count, value=1)


def metric_name(outcome: str) -> str:
    """'not_found' -> 'PaymentNotFound': one metric per outcome, as the dashboard and alarms name them."""
    return "Payment" + "".join(part.capitalize() for part in outcome.split("_"))


# Lambda runs one event at a time per execution environment: the current request's observation.
current = Observation("unrouted")
