"""Ours and the two baselines, wired to counted clients and a gated sandbox processor. Import after the env is set."""

from __future__ import annotations

import os

from .scenarios import CallLog, Gate, Impl

REPLAY_CACHE_SIZE = 10_000
# The order of the columns everywhere: ours, then the baseline the targets are judged against, then the lower bound.
NAMES = ("ours", "app", "minimal")
TITLES = {
    "ours": "ours",
    "app": "Powertools app baseline",
    "minimal": "minimal baseline",
}


def build(calls: CallLog, gate: Gate) -> tuple[list[Impl], list[Impl]]:
    """(plain, replay-cache-on) lists of [ours, app, minimal]."""
    import boto3

    from payments_service import bootstrap
    from payments_service.dal.clients import dynamodb_client
    from payments_service.handlers import api
    from payments_service.models.settings import Settings
    from payments_service.processors.sandbox import SandboxProcessor

    from . import baseline_app, baseline_handler

    def processor() -> SandboxProcessor:
        return SandboxProcessor(slow_seconds=30, sleep=gate)

    # Ours: the real handler and its real process-wide client; only the processor is the bench's.
    calls.attach(dynamodb_client(), "ours")
    ours_deps = bootstrap.build(bootstrap.settings(), processor=processor())
    cached_settings = Settings.from_env({**os.environ, "IDEMPOTENCY_REPLAY_CACHE_SIZE": str(REPLAY_CACHE_SIZE)})
    cached_deps = bootstrap.build(cached_settings, processor=processor())
    ours = Impl("ours", api.lambda_handler, calls, before=lambda: bootstrap.use(ours_deps))
    ours_cached = Impl("ours_cached", api.lambda_handler, calls, before=lambda: bootstrap.use(cached_deps))

    # Baselines: one default boto3 client each, as a user's module would create it. Both use the
    # Powertools idempotency table (their keys never collide: Powertools prefixes them with the function).
    tables = {
        "idempotency_table": os.environ["BASELINE_IDEMPOTENCY_TABLE_NAME"],
        "payments_table": os.environ["PAYMENTS_TABLE_NAME"],
    }
    baselines: dict[str, list[Impl]] = {}
    for name, module in (("app", baseline_app), ("minimal", baseline_handler)):
        client = boto3.client("dynamodb")
        calls.attach(client, name)
        baselines[name] = [
            Impl(
                f"{name}_cached" if cached else name,
                module.build(**tables, client=client, processor=processor(), use_local_cache=cached),
                calls,
                # Powertools stores the recorded response with sorted keys: a replay is the same JSON, but the
                # free-form `metadata` object comes back with its keys sorted. The minimal baseline records the
                # whole API Gateway response, body as a string, so its replays are byte for byte.
                byte_identical_replays=name != "app",
            )
            for cached in (False, True)
        ]
    plain = [ours, baselines["app"][0], baselines["minimal"][0]]
    cached_impls = [ours_cached, baselines["app"][1], baselines["minimal"][1]]
    return plain, cached_impls
