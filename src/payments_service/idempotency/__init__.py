"""Idempotency keys, fingerprints, leases and records. Knows nothing of payments."""
