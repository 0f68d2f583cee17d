"""All configuration, read once from environment variables (bootstrap.settings())."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A key must outlive the longest lease an invocation can hold, or it could expire under a live
# owner and be claimed afresh under a new processor reference (two charges, one payment).
RETENTION_MARGIN_SECONDS = 60


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=3)
    payments_table: str = Field(alias="PAYMENTS_TABLE_NAME", min_length=3)
    # Stripe keeps keys 24 h; a key must outlive the processor's own dedupe window.
    retention_seconds: int = Field(default=86_400, alias="IDEMPOTENCY_RETENTION_SECONDS", ge=60)
    # The function's own timeout (template.yaml sets it per function): the longest a lease can be.
    function_timeout_seconds: int = Field(default=20, alias="FUNCTION_TIMEOUT_SECONDS", ge=1, le=900)
    lease_margin_ms: int = Field(default=500, alias="IDEMPOTENCY_LEASE_MARGIN_MS", ge=0)
    # Used when no Lambda context tells the remaining time (scripts, some tests).
    default_lease_ms: int = Field(default=20_000, alias="IDEMPOTENCY_DEFAULT_LEASE_MS", ge=1_000)
    # A duplicate of a request still running: 409 with this Retry-After (a short poll hint) ...
    inflight_retry_after_seconds: int = Field(default=1, alias="IDEMPOTENCY_INFLIGHT_RETRY_AFTER_SECONDS", ge=1)
    # ... after polling the key this long for the first request's result (0: answer at once).
    inflight_wait_ms: int = Field(default=0, alias="IDEMPOTENCY_INFLIGHT_WAIT_MS", ge=0, le=30_000)
    inflight_poll_ms: int = Field(default=100, alias="IDEMPOTENCY_INFLIGHT_POLL_MS", ge=10, le=5_000)
    replay_cache_size: int = Field(default=0, alias="IDEMPOTENCY_REPLAY_CACHE_SIZE", ge=0)
    # Who a merchant is when the caller is an assumed role: the role (default) or each role session.
    merchant_scope: Literal["role", "role-session"] = Field(default="role", alias="MERCHANT_SCOPE")
    processor: Literal["sandbox"] = Field(default="sandbox", alias="PAYMENT_PROCESSOR")
    # The sandbox processor's own charges table: set, its charges are durable and any function can look
    # one up (the reconciler); unset (tests, scripts), they live in the process.
    sandbox_charges_table: str | None = Field(default=None, alias="SANDBOX_CHARGES_TABLE_NAME", min_length=3)
    # The reconciler decides "not charged" only for keys unknown at least this long: a processor's lookup
    # may be eventually consistent (Stripe's search is).
    reconciler_min_age_seconds: int = Field(default=300, alias="RECONCILER_MIN_AGE_SECONDS", ge=0)
    reconciler_max_keys_per_run: int = Field(default=100, alias="RECONCILER_MAX_KEYS_PER_RUN", ge=1, le=1_000)
    sandbox_slow_seconds: float = Field(default=3.0, alias="SANDBOX_SLOW_SECONDS", ge=0, le=60)
    metrics_namespace: str = Field(default="IdempotentPayments", alias="POWERTOOLS_METRICS_NAMESPACE")
    # Set by Lambda: "on-demand", "provisioned-concurrency" or "snap-start".
    initialization_type: str = Field(default="on-demand", alias="AWS_LAMBDA_INITIALIZATION_TYPE")
    tracing_enabled: bool = False

    @model_validator(mode="after")
    def _retention_outlives_every_lease(self) -> Settings:
        longest_lease_s = max(self.function_timeout_seconds, -(-self.default_lease_ms // 1000))
        if self.retention_seconds < longest_lease_s + RETENTION_MARGIN_SECONDS:
            raise ValueError(
                f"IDEMPOTENCY_RETENTION_SECONDS must be at least the longest lease ({longest_lease_s} s: "
                f"FUNCTION_TIMEOUT_SECONDS or IDEMPOTENCY_DEFAULT_LEASE_MS) plus {RETENTION_MARGIN_SECONDS} s"
            )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        tracing = env.get("POWERTOOLS_TRACE_DISABLED", "true").lower() in ("false", "0")
        return cls.model_validate({**env, "tracing_enabled": tracing})
