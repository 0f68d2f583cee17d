"""Lambda entry point of the scheduled reconciler: one bounded run, a metric per result.

A second entry point: it shares bootstrap's wiring, never the HTTP module.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import bootstrap
from ..logic.follow_up import FOLLOW_UP_RESULTS
from ..logic.reconcile import RESULTS, ReconcileReport
from .observability import logger, metric_name, metrics

warnings.filterwarnings("ignore", message="No application metrics to publish")

UNRESOLVED_METRIC = "UnresolvedKeysOlderThanOneHour"  # alarm on > 0: someone must look
PARKED_METRIC = "ReconcileParked"  # keys parked now, after too many attempts: alarm on > 0
# Per-run counts; "parked" is the gauge above instead (a count of this run's parkings would clear the alarm).
_COUNTED = tuple(r for r in RESULTS if r != "parked")


def reconcile_metric(result: str) -> str:
    """'not_charged' -> 'ReconcileNotCharged'."""
    return "Reconcile" + metric_name(result).removeprefix("Payment")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remaining_ms = context.get_remaining_time_in_millis()
    # A run that fails outright (no settings, no container) still emits its metrics: a graph or an alarm
    # needs a data point every run, and "failed" says it.
    report = ReconcileReport()
    report.results["failed"] += 1
    followed: Counter[str] = Counter()
    try:
        with bootstrap.budget(remaining_ms):
            report = bootstrap.container().reconcile(remaining_ms)  # never raises for a key's failure
            # Then what is still moving at the processor (3-D Secure awaiting customers, pending refunds).
            followed = bootstrap.container().follow_up(context.get_remaining_time_in_millis())
    finally:
        bootstrap.resume_collection()
        _emit(report)
    for failure in report.failures:  # the key's hash and the error's class only: never a message (secrets)
        logger.warning("key failed", extra={"idempotency_key_hash": failure.record_id, "error": failure.error})
    summary = {
        "results": {r: report.results[r] for r in RESULTS},
        "unresolved_older_than_an_hour": report.unresolved_older_than_an_hour,
        "parked": report.parked,
        "more_waiting": report.more_waiting,
    }
    summary["followed_up"] = dict(followed)
    for result in FOLLOW_UP_RESULTS:
        metrics.add_metric(
            name="FollowUp" + metric_name(result).removeprefix("Payment"), unit=MetricUnit.Count, value=followed[result]
        )
    logger.info("reconciled", extra=summary)
    return summary


def _emit(report: ReconcileReport) -> None:
    for result in _COUNTED:  # zeros too: an alarm or a graph needs a data point every run
        metrics.add_metric(name=reconcile_metric(result), unit=MetricUnit.Count, value=report.results[result])
    metrics.add_metric(name=UNRESOLVED_METRIC, unit=MetricUnit.Count, value=report.unresolved_older_than_an_hour)
    metrics.add_metric(name=PARKED_METRIC, unit=MetricUnit.Count, value=report.parked)


metrics.namespace = bootstrap.settings().metrics_namespace
