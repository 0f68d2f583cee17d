"""The family every payments error belongs to: one base, and a kind that says what the caller can do.

A transport decides by the kind (HTTP status, SQS retry or dead letter, reconciler retry or park),
never by rendering one answer and reading another from it: handlers/problems.py maps the family to
HTTP, handlers/queue_actions.py to queue actions. Each error stays in the module that raises it and
names its kind as its base class.

The idempotency engine knows nothing of payments, so it cannot import this module: its errors have
their own base (idempotency/errors.py, IdempotencyError), which the transports map beside this one.
"""

from __future__ import annotations


class PaymentsError(Exception):
    """Anything payments code raises on purpose. A bare subclass (no kind below) is a signal between two
    layers that its caller catches; one reaching a transport is a bug (an internal error, retried)."""


class Transient(PaymentsError):
    """Retry helps: a dependency failed for now; the same request (same key) may succeed later."""


class Invalid(PaymentsError):
    """The request is final: it is malformed (body, key, query, principal); sending it again cannot help."""


class Refused(PaymentsError):
    """The request is final: it is well-formed but refused (declined, not found, too much); nothing happened."""


class Conflict(PaymentsError):
    """The request collides with what is recorded: someone must look (an operator, reconciliation)."""


class Busy(Conflict):
    """The request collides with work still running: wait, then the same request may succeed."""


class Misconfigured(PaymentsError):
    """An operator must act (credentials, a setting, a bug on our side); every request fails until then."""
