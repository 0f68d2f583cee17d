"""`payments-admin`: an operator's view of one idempotency key, and reconciling it now."""
