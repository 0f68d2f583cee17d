"""One Lambda execution environment: imports the handler once, then serves one event at a time.

Started by local.environments as `python -m local.worker MODULE.FUNCTION TIMEOUT_SECONDS`. It reads one
invocation per line (JSON) on stdin and writes one result per line on what was its stdout; the function's
own prints (Powertools logs, EMF metrics) go to stderr, as `sam local` shows them.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import signal
import sys
import time
import traceback
from typing import Any, TextIO

from .lambda_context import LocalLambdaContext


def _send(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message, default=list) + "\n")
    channel.flush()


def _max_memory_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # kilobytes on Linux


def _exit(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    # No interpreter teardown: like a Lambda environment, it just ends (and the handler disables gc at import,
    # which makes a teardown of a large heap slow for nothing).
    os._exit(code)


def main() -> None:
    # Ctrl-C and a SIGTERM to the process group reach every process; the server ends an environment itself
    # (EOF on stdin) once its event is answered, so a stop never cuts an invocation short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    handler_path, timeout_seconds = sys.argv[1], float(sys.argv[2])
    started = time.perf_counter()
    try:
        module_name, function_name = handler_path.rsplit(".", 1)
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:
        _send(channel, {"init_error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()})
        _exit(1)
    _send(channel, {"ready": True, "init_ms": (time.perf_counter() - started) * 1000})
    for line in sys.stdin:
        request = json.loads(line)
        context = LocalLambdaContext(timeout_seconds, request["request_id"])
        began = time.perf_counter()
        result: dict[str, Any]
        try:
            result = {"response": handler(request["event"], context)}
        except Exception as error:  # what Lambda returns for an unhandled error
            trace = traceback.format_exc()
            print(trace, file=sys.stderr, flush=True)
            result = {"error": {"errorType": type(error).__name__, "errorMessage": str(error)}}
        result["duration_ms"] = (time.perf_counter() - began) * 1000
        result["max_memory_mb"] = _max_memory_mb()
        _send(channel, result)
    _exit(0)


if __name__ == "__main__":
    main()
