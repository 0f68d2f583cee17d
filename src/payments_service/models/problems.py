"""RFC 7807 problem details, the body of every error response."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

PROBLEM_BASE = "urn:idempotent-payments:problem:"


class Problem(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
