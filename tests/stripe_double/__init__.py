"""A Stripe test double driven through the real `stripe` SDK (see server.py)."""

from .server import Endpoint, Fault, SeenRequest, StripeDouble

__all__ = ["Endpoint", "Fault", "SeenRequest", "StripeDouble"]
