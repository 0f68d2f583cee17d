"""A cost and latency model for real AWS, since moto neither prices nor times a transaction as DynamoDB does.

Prices are us-east-1 list prices at the time of writing; they change, check the pricing pages.
"""

from __future__ import annotations

import math
from typing import Any

API_GATEWAY_REST_PER_MILLION = 3.50
LAMBDA_REQUESTS_PER_MILLION = 0.20
LAMBDA_ARM_GB_SECOND = 0.0000133334
MEMORY_MB = 512
FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB and CPU in proportion below that
WRU_PER_MILLION = 0.625  # on-demand write request units
RRU_PER_MILLION = 0.125  # on-demand read request units (a strongly consistent read < 4 KB is 1)

# A public benchmark (Alex DeBrie, "DynamoDB Transactions Performance Testing"): p50 latencies.
PUT_ITEM_P50_MS = 7.55
TRANSACT_5_ITEMS_P50_MS = 25.3  # 5 items; ours holds 2, so this is a pessimistic stand-in

# Write units per request, items < 1 KB. A transactional write costs twice: 2 x (payment + key record).
# A failed conditional write (a replay, a conflict) still consumes 1 WRU.
# Both baselines make the same three plain writes (claim, payment, completion) and one write per replay.
_POWERTOOLS_WRU = {"first": 3, "replay": 1}
_POWERTOOLS_MS = {"first": 3 * PUT_ITEM_P50_MS, "replay": PUT_ITEM_P50_MS}
WRU = {
    "ours": {"first": 1 + 2 * (1 + 1), "replay": 1},
    "app": _POWERTOOLS_WRU,
    "minimal": _POWERTOOLS_WRU,
}
DYNAMODB_MS = {
    "ours": {"first": PUT_ITEM_P50_MS + TRANSACT_5_ITEMS_P50_MS, "replay": PUT_ITEM_P50_MS},
    "app": _POWERTOOLS_MS,
    "minimal": _POWERTOOLS_MS,
}


def lambda_cpu_ms(cpu_ms_here: float) -> float:
    """CPU time measured on one core here, stretched to a 512 MB function's share of a vCPU."""
    return cpu_ms_here * FULL_VCPU_MB / MEMORY_MB


def per_million(impl: str, request: str, cpu_ms_here: float) -> dict[str, float]:
    duration_ms = lambda_cpu_ms(cpu_ms_here) + DYNAMODB_MS[impl][request]
    billed_ms = math.ceil(duration_ms)  # Lambda bills by the millisecond
    lambda_cost = LAMBDA_REQUESTS_PER_MILLION + 1e6 * (MEMORY_MB / 1024) * (billed_ms / 1000) * LAMBDA_ARM_GB_SECOND
    dynamodb_cost = WRU[impl][request] * WRU_PER_MILLION
    return {
        "duration_ms": round(duration_ms, 1),
        "dynamodb_ms": round(DYNAMODB_MS[impl][request], 2),
        "api_gateway": API_GATEWAY_REST_PER_MILLION,
        "lambda": round(lambda_cost, 3),
        "dynamodb": round(dynamodb_cost, 3),
        "wru": WRU[impl][request],
        "total": round(API_GATEWAY_REST_PER_MILLION + lambda_cost + dynamodb_cost, 3),
    }


def model(cpu_median_ms: dict[str, dict[str, float]]) -> dict[str, Any]:
    """cpu_median_ms[request][impl] -> cost per million and expected latency per request kind."""
    return {
        request: {impl: per_million(impl, request, cpu) for impl, cpu in cpu_median_ms[request].items()}
        for request in ("first", "replay")
    }
