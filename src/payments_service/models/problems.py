"""RFC 9457 problem details (it replaced RFC 7807), the body of every error response."""

from __future__ import annotations

# defer_build: off a first POST /payments, a validator built on first use, not at import.
from pydantic import BaseModel, ConfigDict

PROBLEM_BASE = "urn:idempotent-payments:problem:"


class Problem(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    type: str
    title: str
    status: int
    detail: str
