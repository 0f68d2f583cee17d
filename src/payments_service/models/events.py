"""What the webhook answers Stripe."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class EventReceipt(BaseModel):
    """The event was verified and processed: applied, already applied (unchanged), or not ours (ignored)."""

    model_config = ConfigDict(frozen=True)

    received: Literal[True] = True
    outcome: Literal["applied", "unchanged", "ignored"]
