"""A Lambda context whose remaining time counts down from the function's Timeout in template.yaml."""

from __future__ import annotations

import os
import time
import uuid


class LocalLambdaContext:
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    log_stream_name = "local"

    def __init__(self, timeout_seconds: float, request_id: str | None = None) -> None:
        self.aws_request_id = request_id or str(uuid.uuid4())
        # The environment's own function (the worker gets AWS_LAMBDA_FUNCTION_NAME, as on Lambda).
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "PaymentsFunction")
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
