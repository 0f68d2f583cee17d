"""All configuration, read once from environment variables (bootstrap.settings())."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=3)
    payments_table: str = Field(alias="PAYMENTS_TABLE_NAME", min_length=3)
    refunds_table: str = Field(alias="REFUNDS_TABLE_NAME", min_length=3)
    # Stripe keeps keys 24 h; a key must outlive the processor's own dedupe window.
    retention_seconds: int = Field(default=86_400, alias="IDEMPOTENCY_RETENTION_SECONDS", ge=60)
    lease_margin_ms: int = Field(default=500, alias="IDEMPOTENCY_LEASE_MARGIN_MS", ge=0)
    # Used when no Lambda context tells the remaining time (scripts, some tests).
    default_lease_ms: int = Field(default=20_000, alias="IDEMPOTENCY_DEFAULT_LEASE_MS", ge=1_000)
    replay_cache_size: int = Field(default=0, alias="IDEMPOTENCY_REPLAY_CACHE_SIZE", ge=0)
    # The queue consumer parks messages that can never succeed here (unset: they are left to SQS's redrive).
    dead_letter_queue_url: str = Field(default="", alias="PAYMENT_REQUESTS_DLQ_URL")
    processor: Literal["sandbox", "stripe"] = Field(default="sandbox", alias="PAYMENT_PROCESSOR")
    sandbox_slow_seconds: float = Field(default=3.0, alias="SANDBOX_SLOW_SECONDS", ge=0, le=60)
    # How long the processor deduplicates our reference (Stripe: 24 h). A key given back longer ago is not retried.
    processor_idempotency_window_seconds: int = Field(
        default=86_400, alias="PROCESSOR_IDEMPOTENCY_WINDOW_SECONDS", ge=60
    )
    # Time kept after the processor call to record its result before the Lambda ends.
    processor_commit_reserve_ms: int = Field(default=2_000, alias="PROCESSOR_COMMIT_RESERVE_MS", ge=0)
    # Stripe: the key from Secrets Manager (deployed), or directly (local runs, tests). Never logged.
    stripe_api_key_secret_arn: str | None = Field(default=None, alias="STRIPE_API_KEY_SECRET_ARN")
    stripe_api_key: SecretStr | None = Field(default=None, alias="STRIPE_API_KEY")
    stripe_api_base: str = Field(default="https://api.stripe.com", alias="STRIPE_API_BASE", pattern=r"^https?://")
    stripe_max_network_retries: int = Field(default=2, alias="STRIPE_MAX_NETWORK_RETRIES", ge=0, le=5)
    # Upper bound of one HTTP attempt; the remaining Lambda time may shorten it.
    stripe_attempt_timeout_seconds: float = Field(default=8.0, alias="STRIPE_ATTEMPT_TIMEOUT_SECONDS", gt=0)
    stripe_secret_max_age_seconds: int = Field(default=300, alias="STRIPE_SECRET_MAX_AGE_SECONDS", ge=1)
    metrics_namespace: str = Field(default="IdempotentPayments", alias="POWERTOOLS_METRICS_NAMESPACE")
    # Set by Lambda: "on-demand", "provisioned-concurrency" or "snap-start".
    initialization_type: str = Field(default="on-demand", alias="AWS_LAMBDA_INITIALIZATION_TYPE")
    tracing_enabled: bool = False

    @model_validator(mode="after")
    def _stripe_has_a_key(self) -> Settings:
        if self.processor == "stripe" and not (self.stripe_api_key_secret_arn or self.stripe_api_key):
            raise ValueError("PAYMENT_PROCESSOR=stripe needs STRIPE_API_KEY_SECRET_ARN (or STRIPE_API_KEY locally)")
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        tracing = env.get("POWERTOOLS_TRACE_DISABLED", "true").lower() in ("false", "0")
        return cls.model_validate({**env, "tracing_enabled": tracing})
