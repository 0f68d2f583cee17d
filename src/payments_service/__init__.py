"""idempotent-payments: a payment API whose retries charge exactly once."""
