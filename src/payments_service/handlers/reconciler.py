"""Lambda entry point of the scheduled reconciler: one bounded run, a metric per result.

A second entry point: it shares bootstrap's wiring, never the HTTP module.
"""

from __future__ import annotations

import warnings
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import bootstrap
from ..logic.reconcile import RESULTS
from .observability import logger, metric_name, metrics

warnings.filterwarnings("ignore", message="No application metrics to publish")

UNRESOLVED_METRIC = "UnresolvedKeysOlderThanOneHour"  # alarm on > 0: someone must look


def reconcile_metric(result: str) -> str:
    """'not_charged' -> 'ReconcileNotCharged'."""
    return "Reconcile" + metric_name(result).removeprefix("Payment")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remaining_ms = context.get_remaining_time_in_millis()
    try:
        with bootstrap.budget(remaining_ms):
            report = bootstrap.container().reconcile(remaining_ms)
    finally:
        bootstrap.resume_collection()
    for result in RESULTS:  # zeros too: an alarm or a graph needs a data point every run
        metrics.add_metric(name=reconcile_metric(result), unit=MetricUnit.Count, value=report.results[result])
    metrics.add_metric(name=UNRESOLVED_METRIC, unit=MetricUnit.Count, value=report.unresolved_older_than_an_hour)
    summary = {
        "results": {r: report.results[r] for r in RESULTS},
        "unresolved_older_than_an_hour": report.unresolved_older_than_an_hour,
        "more_waiting": report.more_waiting,
    }
    logger.info("reconciled", extra=summary)
    return summary


metrics.namespace = bootstrap.settings().metrics_namespace
