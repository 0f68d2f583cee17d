"""What every entry point asks of the Lambda context."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext


def remaining_ms(context: LambdaContext | None) -> int | None:
    """The invocation's time left (None without a context: scripts, some tests)."""
    return context.get_remaining_time_in_millis() if context is not None else None
