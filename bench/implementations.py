"""Ours and the baseline, wired to counted clients and a gated sandbox processor. Import after the env is set."""

from __future__ import annotations

import os

from .scenarios import CallLog, Gate, Impl

REPLAY_CACHE_SIZE = 10_000


def build(calls: CallLog, gate: Gate) -> tuple[list[Impl], list[Impl]]:
    """(plain, replay-cache-on) pairs of [ours, baseline]."""
    import boto3

    from payments_service.dal.clients import dynamodb_client
    from payments_service.domain.processor import SandboxProcessor
    from payments_service.handlers import api, dependencies
    from payments_service.models.settings import Settings

    from . import baseline_handler

    # Ours: the real handler and its real process-wide client; only the processor is the bench's.
    calls.attach(dynamodb_client(), "ours")
    ours_deps = dependencies.build(api.settings, processor=SandboxProcessor(slow_seconds=30, sleep=gate))
    cached_settings = Settings.from_env({**os.environ, "IDEMPOTENCY_REPLAY_CACHE_SIZE": str(REPLAY_CACHE_SIZE)})
    cached_deps = dependencies.build(cached_settings, processor=SandboxProcessor(slow_seconds=30, sleep=gate))

    # Baseline: one default boto3 client, as a user's module would create it.
    baseline_client = boto3.client("dynamodb")
    calls.attach(baseline_client, "baseline")

    def baseline(use_local_cache: bool) -> Impl:
        handler = baseline_handler.build(
            idempotency_table=os.environ["BASELINE_IDEMPOTENCY_TABLE_NAME"],
            payments_table=os.environ["PAYMENTS_TABLE_NAME"],
            client=baseline_client,
            processor=SandboxProcessor(slow_seconds=30, sleep=gate),
            use_local_cache=use_local_cache,
        )
        return Impl("baseline_cached" if use_local_cache else "baseline", handler, calls)

    ours = Impl("ours", api.lambda_handler, calls, before=lambda: api.use_dependencies(ours_deps))
    ours_cached = Impl("ours_cached", api.lambda_handler, calls, before=lambda: api.use_dependencies(cached_deps))
    return [ours, baseline(False)], [ours_cached, baseline(True)]
