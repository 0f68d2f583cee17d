"""What the webhook answers Stripe."""

from __future__ import annotations

from typing import Literal

# defer_build: off a first POST /payments, a validator built on first use, not at import.
from pydantic import BaseModel, ConfigDict


class EventReceipt(BaseModel):
    """The event was verified and processed: applied, already applied (unchanged), or not ours (ignored)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    received: Literal[True] = True
    outcome: Literal["applied", "unchanged", "ignored"]
