"""Both completions side by side, in one run on one DynamoDB: the one transaction (the default) and the sequential
one that global tables in strong consistency need (IDEMPOTENCY_COMPLETION=sequential, docs/multi-region.md).

Per first request: DynamoDB calls counted at the client, write units (DynamoDB's pricing: a transactional write
costs 2 per item, a plain write 1; items < 1 KB), wall time here (moto), and the model's DynamoDB time on AWS in
one Region (bench/costs.py's public p50s). Requests alternate between the two, so both see the same machine.
"""

from __future__ import annotations

from typing import Any

from .costs import PUT_ITEM_P50_MS, TRANSACT_5_ITEMS_P50_MS
from .scenarios import CallLog, Impl, Requests, ScenarioError
from .stats import summary

COMPLETIONS = ("transaction", "sequential")
# claim + a 2-item transaction (payment, key) | claim + decision + payment + completed
WRU = {"transaction": 1 + 2 * (1 + 1), "sequential": 1 + 1 + 1 + 1}
AWS_DYNAMODB_MS = {"transaction": PUT_ITEM_P50_MS + TRANSACT_5_ITEMS_P50_MS, "sequential": 4 * PUT_ITEM_P50_MS}


def measure(calls: CallLog, req: Requests, iterations: int) -> dict[str, Any]:
    from payments_service import bootstrap
    from payments_service.handlers import api
    from payments_service.processors.sandbox import SandboxProcessor

    impls: dict[str, Impl] = {}
    for completion in COMPLETIONS:
        settings = bootstrap.settings().model_copy(update={"idempotency_completion": completion})
        deps = bootstrap.build(settings, processor=SandboxProcessor(slow_seconds=0))
        impls[completion] = Impl(completion, api.lambda_handler, calls, before=lambda d=deps: bootstrap.use(d))
    wall: dict[str, list[float]] = {c: [] for c in COMPLETIONS}
    operations: dict[str, tuple[str, ...]] = {}
    try:
        for turn in range(iterations):
            order = COMPLETIONS if turn % 2 == 0 else COMPLETIONS[::-1]
            for completion in order:
                outcome = impls[completion].call(req.post(req.new_key()))
                if outcome.status != 201:
                    raise ScenarioError(f"{completion} completion: a first request answered {outcome.status}")
                if operations.setdefault(completion, outcome.operations) != outcome.operations:
                    raise ScenarioError(f"{completion} completion: calls changed: {outcome.operations}")
                wall[completion].append(outcome.wall_ms)
    finally:
        bootstrap.use(None)
    return {
        completion: {
            "operations": list(operations[completion]),
            "calls": len(operations[completion]),
            "write_units": WRU[completion],
            "wall_ms": summary(wall[completion]),
            "aws_dynamodb_ms": round(AWS_DYNAMODB_MS[completion], 2),
        }
        for completion in COMPLETIONS
    }


def lines(results: dict[str, Any]) -> list[str]:
    out = ["first request, by completion (IDEMPOTENCY_COMPLETION):"]
    for completion in COMPLETIONS:
        r = results[completion]
        out.append(
            f"  {completion:<11} {r['calls']} calls ({', '.join(r['operations'])}), {r['write_units']} write units,"
            f" median {r['wall_ms']['median']:.2f} ms here, ~{r['aws_dynamodb_ms']:.1f} ms of DynamoDB on AWS"
        )
    here = results["sequential"]["wall_ms"]["median"] / results["transaction"]["wall_ms"]["median"]
    aws = results["sequential"]["aws_dynamodb_ms"] / results["transaction"]["aws_dynamodb_ms"]
    out.append(f"  ratio (sequential / transaction): {here:.3f} here, {aws:.3f} modelled on AWS (one Region)")
    return out
