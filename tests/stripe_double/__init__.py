"""A Stripe test double driven through the real `stripe` SDK (see server.py)."""

from .server import Fault, SeenRequest, StripeDouble

__all__ = ["Fault", "SeenRequest", "StripeDouble"]
