"""The rig every proof test drives: the real handler and DynamoDB, with failure injection and a frozen clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.proof.injection import CrashingClient, CrashingProcessor, CrashPlan, Ledger, LedgerProcessor
from tests.proof.oracle import Answer, call
from tests.support import FakeClock


@dataclass
class Rig:
    """The real handler and DynamoDB, with a crash plan on the client and processor, a frozen clock and a ledger."""

    settings: Any
    clock: FakeClock
    plan: CrashPlan
    ledger: Ledger
    sandbox: Any
    deps: Any
    db: Any  # a plain client for the test's own reads
    refund_ledger: Ledger  # every refund the processor made: reference -> "charge:amount:refund id"

    def call(self, event: dict[str, Any], remaining_ms: int = 20_000) -> Answer:
        return call(self.deps, event, remaining_ms)


def build_rig(
    settings: Any,
    db: Any,
    ledger_path: Path,
    clock: FakeClock | None = None,
    sandbox: Any = None,
    wrap_client: Callable[[Any], Any] | None = None,
) -> Rig:
    from payments_service import bootstrap
    from payments_service.dal.clients import dynamodb_client
    from payments_service.processors.sandbox import SandboxProcessor

    clock = clock or FakeClock(time.time_ns() // 1_000_000)
    plan, ledger = CrashPlan(), Ledger(ledger_path)
    refund_ledger = Ledger(ledger_path.with_name(ledger_path.stem + "-refunds.jsonl"))
    sandbox = sandbox or SandboxProcessor(slow_seconds=0)
    inner = dynamodb_client()  # the production client, retries and all
    client: Any = CrashingClient(wrap_client(inner) if wrap_client else inner, plan)  # duck-typed boto3 client
    processor = CrashingProcessor(LedgerProcessor(sandbox, ledger, refund_ledger), plan)
    deps = bootstrap.build(settings, client=lambda: client, processor=processor, clock=clock)
    return Rig(settings, clock, plan, ledger, sandbox, deps, db, refund_ledger)
