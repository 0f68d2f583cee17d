"""One POST /payments through the real handler in a process of its own, hard-stopped at a chosen boundary.

`os._exit(137)` is what a Lambda timeout or an out-of-memory kill looks like to the code: no
exception handler, no `finally`, no release. Run by test_fault_matrix as

    python -m tests.proof.crashing_invoker < event.json

with PROOF_CRASH_AT (a Boundary or RefundBoundary), PROOF_CLOCK_MS (the frozen clock), PROOF_REMAINING_MS (what the
fake Lambda context reports: it sets the lease), PROOF_LEDGER (charges file), PROOF_ANSWER (where
to write the response if the boundary is never reached), plus the DynamoDB endpoint and table names
of the session (local.runtime.local_environment).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from payments_service import bootstrap
from payments_service.dal.clients import dynamodb_client
from payments_service.handlers import api
from payments_service.models.settings import Settings
from payments_service.processors.sandbox import SandboxProcessor
from tests.proof.injection import (
    Boundary,
    CrashingClient,
    CrashingProcessor,
    CrashPlan,
    Ledger,
    LedgerProcessor,
    RefundBoundary,
)
from tests.support import FakeContext

HARD_STOP = 137  # 128 + SIGKILL, the status Lambda reports for a killed runtime


class FrozenClock:
    def __init__(self, now_ms: int) -> None:
        self._now = now_ms

    def now_ms(self) -> int:
        return self._now


def _hard_stop() -> None:
    sys.stderr.flush()
    os._exit(HARD_STOP)


def main() -> int:
    event = json.loads(sys.stdin.read())
    plan = CrashPlan()
    at = os.environ["PROOF_CRASH_AT"]
    plan.arm(RefundBoundary(at) if at in set(RefundBoundary) else Boundary(at), _hard_stop)
    client: Any = CrashingClient(dynamodb_client(), plan)  # honours AWS_ENDPOINT_URL_DYNAMODB
    refunds = Ledger(Path(os.environ["PROOF_REFUND_LEDGER"])) if "PROOF_REFUND_LEDGER" in os.environ else None
    processor = CrashingProcessor(
        LedgerProcessor(SandboxProcessor(slow_seconds=0), Ledger(Path(os.environ["PROOF_LEDGER"])), refunds), plan
    )
    deps = bootstrap.build(
        Settings.from_env(),
        client=lambda: client,
        processor=processor,
        clock=FrozenClock(int(os.environ["PROOF_CLOCK_MS"])),
    )
    bootstrap.use(deps)
    with contextlib.redirect_stdout(sys.stderr):
        response = api.lambda_handler(event, FakeContext(int(os.environ["PROOF_REMAINING_MS"])))
    # Reaching this line means the boundary was never crossed: the caller treats that as a failure.
    Path(os.environ["PROOF_ANSWER"]).write_text(json.dumps(response, default=dict))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
