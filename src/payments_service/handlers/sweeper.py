"""Lambda entry point of the scheduled key sweeper: one bounded run, its metrics, one log line.

Deployed only where the keys table has no TTL (global tables in MRSC mode). A second entry point: it
shares bootstrap's wiring, never the HTTP module.
"""

from __future__ import annotations

import warnings
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import bootstrap
from ..logic.sweep_expired_keys import SweepReport
from .observability import logger, metrics

warnings.filterwarnings("ignore", message="No application metrics to publish")

SWEPT_METRIC = "KeySweeperSwept"
SKIPPED_METRIC = "KeySweeperSkipped"
PAGES_METRIC = "KeySweeperPagesScanned"
FINISHED_METRIC = "KeySweeperPassCompleted"  # 1 in the run that reached the table's end, else 0


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A run that fails outright (no settings, a misconfigured table) still emits its zeros: a graph or an alarm
    # needs a data point every run; the error itself fails the invocation (the function-errors alarm).
    report = SweepReport()
    try:
        with bootstrap.budget(context.get_remaining_time_in_millis()):
            report = bootstrap.container().sweep_expired_keys(context.get_remaining_time_in_millis)
    finally:
        bootstrap.resume_collection()
        _emit(report)
    summary: dict[str, Any] = {
        "swept": report.swept,
        "skipped": report.skipped,
        "pages": report.pages,
        "pass_completed": report.pass_completed,
        "stopped": report.stopped,
    }
    if report.error is not None:  # transient: the cursor is kept, the next run resumes
        logger.warning("keys swept", extra=summary | {"error": report.error})
    else:
        logger.info("keys swept", extra=summary)
    return summary


def _emit(report: SweepReport) -> None:
    for name, value in (
        (SWEPT_METRIC, report.swept),
        (SKIPPED_METRIC, report.skipped),
        (PAGES_METRIC, report.pages),
        (FINISHED_METRIC, int(report.pass_completed)),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


metrics.namespace = bootstrap.settings().metrics_namespace
