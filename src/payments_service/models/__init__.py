"""Pydantic models: requests, responses, stored items and settings. No I/O here."""
