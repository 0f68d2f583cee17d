"""Implementations of the payment-processor port (domain/processor.py)."""
