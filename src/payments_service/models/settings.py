"""All configuration, read once from environment variables (bootstrap.settings())."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

# A key must outlive the longest lease an invocation can hold, or it could expire under a live
# owner and be claimed afresh under a new processor reference (two charges, one payment).
RETENTION_MARGIN_SECONDS = 60
# How long Stripe may go on with a request after our client gave up on it (its own request timeouts).
STRIPE_IN_FLIGHT_MARGIN_SECONDS = 30


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=3)
    payments_table: str = Field(alias="PAYMENTS_TABLE_NAME", min_length=3)
    refunds_table: str = Field(alias="REFUNDS_TABLE_NAME", min_length=3)
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
    # How a result commits with its business writes: one transaction, or one write at a time behind a decision
    # on the key where tables cannot run transactions (global tables in strong consistency, docs/multi-region.md).
    idempotency_completion: Literal["transaction", "sequential"] = Field(
        default="transaction", alias="IDEMPOTENCY_COMPLETION"
    )
    # The queue consumer parks messages that can never succeed here (unset: they are left to SQS's redrive).
    dead_letter_queue_url: str = Field(default="", alias="PAYMENT_REQUESTS_DLQ_URL")
    processor: Literal["sandbox", "stripe"] = Field(default="sandbox", alias="PAYMENT_PROCESSOR")
    # Who a merchant is when the caller is an assumed role: the role (default) or each role session.
    merchant_scope: Literal["role", "role-session"] = Field(default="role", alias="MERCHANT_SCOPE")
    # The sandbox processor's own charges table: set, its charges are durable and any function can look
    # one up (the reconciler); unset (tests, scripts), they live in the process.
    sandbox_charges_table: str | None = Field(default=None, alias="SANDBOX_CHARGES_TABLE_NAME", min_length=3)
    # The reconciler decides "not charged" only for keys unknown at least this long: a request sent before the
    # key was given back may still be running at the processor (Stripe's lookup itself is read-after-write).
    reconciler_min_age_seconds: int = Field(default=60, alias="RECONCILER_MIN_AGE_SECONDS", ge=0)
    # The longest a charging function (the API's, the queue's) runs: with Stripe the minimum age must outlast it.
    charge_function_timeout_seconds: int = Field(default=20, alias="CHARGE_FUNCTION_TIMEOUT_SECONDS", ge=1, le=900)
    reconciler_max_keys_per_run: int = Field(default=100, alias="RECONCILER_MAX_KEYS_PER_RUN", ge=1, le=1_000)
    # Looks at a key that stays unknown before the reconciler parks it (out of every batch, ReconcileParked
    # alarm): an operator's `payments-admin key reconcile` or a client's retry still resolves it.
    reconciler_max_attempts: int = Field(default=12, alias="RECONCILER_MAX_ATTEMPTS", ge=1, le=1_000)
    # The key sweeper, run only where the keys table has no TTL (global tables in MRSC mode): per run, at most
    # this many deletes and this many scan pages of this many items each; the next run resumes from there.
    key_sweeper_max_deletes_per_run: int = Field(
        default=1_000, alias="KEY_SWEEPER_MAX_DELETES_PER_RUN", ge=1, le=10_000
    )
    key_sweeper_page_size: int = Field(default=200, alias="KEY_SWEEPER_PAGE_SIZE", ge=1, le=1_000)
    key_sweeper_max_pages_per_run: int = Field(default=50, alias="KEY_SWEEPER_MAX_PAGES_PER_RUN", ge=1, le=1_000)
    sandbox_slow_seconds: float = Field(default=3.0, alias="SANDBOX_SLOW_SECONDS", ge=0, le=60)
    # How long the processor deduplicates our reference (Stripe: 24 h). A key given back longer ago is not retried.
    processor_idempotency_window_seconds: int = Field(
        default=86_400, alias="PROCESSOR_IDEMPOTENCY_WINDOW_SECONDS", ge=60
    )
    # Time kept after the processor call for the commit itself, on top of the time under which DynamoDB calls
    # are refused (dal/deadline.py derives the processor's deadline from both: one budget).
    processor_commit_room_ms: int = Field(default=1_000, alias="PROCESSOR_COMMIT_ROOM_MS", ge=200)
    # Stripe: the key from Secrets Manager (deployed), or directly (local runs, tests). Never logged.
    stripe_api_key_secret_arn: str | None = Field(default=None, alias="STRIPE_API_KEY_SECRET_ARN")
    stripe_api_key: SecretStr | None = Field(default=None, alias="STRIPE_API_KEY")
    stripe_api_base: str = Field(default="https://api.stripe.com", alias="STRIPE_API_BASE", pattern=r"^https?://")
    stripe_max_network_retries: int = Field(default=2, alias="STRIPE_MAX_NETWORK_RETRIES", ge=0, le=5)
    # Upper bound of one HTTP attempt; the remaining Lambda time may shorten it.
    stripe_attempt_timeout_seconds: float = Field(default=8.0, alias="STRIPE_ATTEMPT_TIMEOUT_SECONDS", gt=0)
    stripe_secret_max_age_seconds: int = Field(default=300, alias="STRIPE_SECRET_MAX_AGE_SECONDS", ge=1)
    # The webhook endpoint's signing secret(s) (whsec_...): from Secrets Manager (deployed) or directly (local
    # runs, tests). During a rotation both the new and the old secret verify: separate them with a comma.
    stripe_webhook_secret_arn: str | None = Field(default=None, alias="STRIPE_WEBHOOK_SECRET_ARN")
    stripe_webhook_secret: SecretStr | None = Field(default=None, alias="STRIPE_WEBHOOK_SECRET")
    # A payment left awaiting its customer (3-D Secure) this long is canceled at the processor by the reconciler.
    requires_action_timeout_seconds: int = Field(
        default=86_400, alias="REQUIRES_ACTION_TIMEOUT_SECONDS", ge=900, le=7 * 86_400
    )
    # The browser origin allowed to read the API's answers (CORS); empty: no CORS headers at all.
    cors_allowed_origin: str = Field(default="", alias="CORS_ALLOWED_ORIGIN")
    metrics_namespace: str = Field(default="IdempotentPayments", alias="POWERTOOLS_METRICS_NAMESPACE")
    # Set by Lambda: "on-demand", "provisioned-concurrency" or "snap-start".
    initialization_type: str = Field(default="on-demand", alias="AWS_LAMBDA_INITIALIZATION_TYPE")
    tracing_enabled: bool = False

    @model_validator(mode="after")
    def _stripe_has_a_key(self) -> Settings:
        if self.processor == "stripe" and not (self.stripe_api_key_secret_arn or self.stripe_api_key):
            raise ValueError("PAYMENT_PROCESSOR=stripe needs STRIPE_API_KEY_SECRET_ARN (or STRIPE_API_KEY locally)")
        return self

    @model_validator(mode="after")
    def _reconciler_outwaits_a_charge_in_flight(self) -> Settings:
        # Finding 18.9: "not charged" decided while the first request still runs at Stripe records nothing of
        # a charge that then lands. The floor is the charging function's timeout plus Stripe's own time.
        floor = self.charge_function_timeout_seconds + STRIPE_IN_FLIGHT_MARGIN_SECONDS
        if self.processor == "stripe" and self.reconciler_min_age_seconds < floor:
            raise ValueError(
                f"RECONCILER_MIN_AGE_SECONDS must be at least {floor} s with Stripe: CHARGE_FUNCTION_TIMEOUT_SECONDS "
                f"plus {STRIPE_IN_FLIGHT_MARGIN_SECONDS} s, so that no charge is still in flight when it is looked up"
            )
        return self

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
