"""One structured log line and one metric for every request, however it ends. Never card data or raw keys.

One vocabulary (README, "Outcomes, statuses, metrics"): each outcome names the statuses it may answer and
the level it is logged at. INFO: answered as designed (a 4xx the client can fix included). WARNING: an
expected failure (a dependency, a key in flight), no traceback, its own metric. ERROR: a bug or a
misconfiguration, with its traceback; the log groups' ERROR metric filter raises an alarm (template.yaml).
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()

Level = Literal["INFO", "WARNING", "ERROR"]


@dataclass(frozen=True)
class Outcome:
    statuses: frozenset[int]  # every status a request ending so may answer (the queue: the HTTP equivalent)
    level: Level


def _outcome(level: Level, *statuses: int) -> Outcome:
    return Outcome(frozenset(statuses), level)


_PARKED = (400, 401, 402, 404, 409, 413, 415, 422)  # whatever a message can never succeed with
# Every way a request or message can end; each is one metric, Payment<Outcome> (see metric_name).
OUTCOMES: dict[str, Outcome] = {
    "created": _outcome("INFO", 201),
    "requires_action": _outcome("INFO", 202),
    "declined": _outcome("INFO", 402),
    "replayed": _outcome("INFO", 201, 202, 402, 409),  # the recorded answer again, refunds' 409 refusal too
    "found": _outcome("INFO", 200),
    "listed": _outcome("INFO", 200),
    "refund_created": _outcome("INFO", 201),
    "refund_refused": _outcome("INFO", 409),
    "event_applied": _outcome("INFO", 200),
    "event_unchanged": _outcome("INFO", 200),
    "event_ignored": _outcome("INFO", 200),
    "invalid": _outcome("INFO", 400, 413, 415, 422),
    "unauthenticated": _outcome("INFO", 401),
    "not_found": _outcome("INFO", 404),
    "mismatch": _outcome("INFO", 422),
    "rejected": _outcome("INFO", 400, 409),
    "refund_exceeds_payment": _outcome("INFO", 409),
    "invalid_signature": _outcome("WARNING", 400),
    "in_flight": _outcome("WARNING", 409),
    "processor_unavailable": _outcome("WARNING", 503),
    "unavailable": _outcome("WARNING", 503),
    "busy": _outcome("WARNING", 503),
    "reference_expired": _outcome("WARNING", 422),
    "dead_lettered": _outcome("WARNING", *_PARKED),
    "inconsistent": _outcome("ERROR", 409),
    "processor_auth": _outcome("ERROR", 500),
    "processor_idempotency": _outcome("ERROR", 500),
    "error": _outcome("ERROR", 500),
    # What the code answered without naming how, or named wrongly: a bug of the labelling, not of the answer.
    "unclassified": _outcome("WARNING", *range(100, 500)),
}


def outcome_for(named: str | None, status: int) -> str:
    """The outcome the log and the metric say: the one named if it may answer `status`, else one that may."""
    if named in OUTCOMES and status in OUTCOMES[named].statuses:
        return named
    return "error" if status >= 500 else "unclassified"


@dataclass
class Observation:
    """What the request revealed about itself; filled in as it is served."""

    operation: str
    outcome: str | None = None  # named by the route or the problem map; checked against the status at finish
    error: BaseException | None = None  # what ended it, if an exception did
    fields: dict[str, str] = field(default_factory=dict)  # merchant, idempotency_key_hash, message_id
    started: float = field(default_factory=time.perf_counter)

    def failed(self, outcome: str, error: BaseException) -> None:
        self.outcome, self.error = outcome, error

    def finish(self, status: int) -> str:
        latency_ms = round((time.perf_counter() - self.started) * 1000, 2)
        outcome = outcome_for(self.outcome, status)
        level = OUTCOMES[outcome].level
        extra = {"operation": self.operation, "outcome": outcome, "status": status, "latency_ms": latency_ms}
        if outcome != self.outcome and self.outcome is not None:
            extra["named_outcome"] = self.outcome  # the contradiction, kept for whoever fixes the label
        if self.error is not None and level != "ERROR":
            # Class names only, never a message: a processor's text may quote a key or a token.
            extra["error"] = type(self.error).__name__
            if self.error.__cause__ is not None:
                extra["cause"] = type(self.error.__cause__).__name__
        # A traceback only where someone must act; an expected failure is a WARNING without one.
        exc_info = self.error if level == "ERROR" and self.error is not None else None
        log = {"INFO": logger.info, "WARNING": logger.warning, "ERROR": logger.error}[level]
        log("request", extra=extra | self.fields, exc_info=exc_info)
        metrics.add_metric(name=metric_name(outcome), unit=MetricUnit.Count, value=1)
        return outcome


def metric_name(outcome: str) -> str:
    """'not_found' -> 'PaymentNotFound': one metric per outcome, as the dashboard and alarms name them."""
    return "Payment" + "".join(part.capitalize() for part in outcome.split("_"))


# The request being served, in this context only: Lambda serves one event at a time per execution
# environment, but a test or the local server may serve several at once on threads.
_observing: ContextVar[Observation] = ContextVar("observation")


def observe(operation: str) -> Observation:
    """Start observing a request: what `current()` returns until the next one starts in this context."""
    observation = Observation(operation)
    _observing.set(observation)
    return observation


def current() -> Observation:
    """The request being served here; outside one (a route called directly), an unrouted observation."""
    try:
        return _observing.get()
    except LookupError:
        return observe("unrouted")
