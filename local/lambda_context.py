"""A Lambda context whose remaining time counts down from the function's Timeout in template.yaml."""

from __future__ import annotations

import time
import uuid


class LocalLambdaContext:
    function_name = "PaymentsFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/PaymentsFunction"
    log_stream_name = "local"

    def __init__(self, timeout_seconds: float, request_id: str | None = None) -> None:
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:PaymentsFunction"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
