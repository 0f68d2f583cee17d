"""How running under a key can fail, in idempotency terms; each transport maps these to its own answers."""

from __future__ import annotations


class KeyInUse(Exception):
    """Another request with this key is being processed right now."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("a request with this idempotency key is in progress")
        self.retry_after_seconds = retry_after_seconds


class KeyReused(Exception):
    """The key is live and was first used with a different request."""


class TemporarilyUnavailable(Exception):
    """A transient failure; the claim was released (or will lapse), so the same key may be retried."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("temporarily unavailable")
        self.retry_after_seconds = retry_after_seconds


class ReferenceExpired(Exception):
    """The key was given back with an unknown outcome longer ago than the downstream system deduplicates its
    reference: sending it again could act twice, so it is not taken over (left to reconciliation)."""
