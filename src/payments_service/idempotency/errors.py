"""How running under a key can fail, in idempotency terms; each transport maps these to its own answers.

Every error of the engine, its store port and its keys derives from IdempotencyError (as Powertools'
idempotency utility does), so a caller can catch "anything idempotency" or one precise case. The
engine knows nothing of payments, so this base is its own and not payments' domain/errors.py: the
transports, which know both, map the two families side by side (handlers/problems.py, queue_actions.py).
Each class says what a caller can do about it.
"""

from __future__ import annotations


class IdempotencyError(Exception):
    """Anything the engine, its store port or its keys raise on purpose."""


class KeyInUse(IdempotencyError):
    """Another request with this key is being processed right now: wait, then the same request may succeed."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("a request with this idempotency key is in progress")
        self.retry_after_seconds = retry_after_seconds


class KeyReused(IdempotencyError):
    """The key is live and was first used with a different request: final, a retry gets the same answer."""


class TemporarilyUnavailable(IdempotencyError):
    """A transient failure; the claim was released (or will lapse), so the same key may be retried: retry helps."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("temporarily unavailable")
        self.retry_after_seconds = retry_after_seconds


class ReferenceExpired(IdempotencyError):
    """The key was given back with an unknown outcome longer ago than the downstream system deduplicates its
    reference: sending it again could act twice, so it is not taken over. Final for the caller; reconciliation
    (or an operator) must look."""
