"""One cold start, in a fresh process: import the handler module, serve one first request, report timings.

Only the standard library is loaded before the clock starts, as in the Lambda runtime's bootstrap.
"""

from __future__ import annotations

import time

ENTERED = time.time()  # first thing: the parent subtracts its spawn time to get interpreter start-up

import json  # noqa: E402
import sys  # noqa: E402


class Context:
    function_name = "PaymentsFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:PaymentsFunction"
    aws_request_id = "cold-start"
    log_group_name = "/aws/lambda/PaymentsFunction"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


def main() -> None:
    module_name, event_path, result_path = sys.argv[1:4]
    primed = sys.argv[4:5] == ["prime"]  # as a SnapStart init would, before the snapshot (bench/priming.py)
    with open(event_path) as handle:
        event = json.load(handle)
    cpu, started = time.process_time(), time.perf_counter()
    __import__(module_name)
    imported = prime_ms = time.perf_counter()
    if primed:
        from payments_service.handlers.priming import prime

        prime()
        prime_ms = time.perf_counter()
    first = time.perf_counter()
    response = sys.modules[module_name].lambda_handler(event, Context())
    done, cpu = time.perf_counter(), time.process_time() - cpu
    result = {
        "entered_epoch": ENTERED,
        "prime_ms": (prime_ms - imported) * 1000,
        "first_request_ms": (done - first) * 1000,
        "import_ms": (imported - started) * 1000,
        "total_ms": (done - started) * 1000,
        "cpu_ms": cpu * 1000,
        "status": response["statusCode"],
        "modules": len(sys.modules),
    }
    with open(result_path, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
