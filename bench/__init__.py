"""Benchmark: our idempotent handler against a Powertools-only baseline (`python -m bench [--smoke]`)."""
