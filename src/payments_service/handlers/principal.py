"""Who is calling: the merchant is the authenticated principal API Gateway vouches for."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# arn:aws:sts::123456789012:assumed-role/RoleName/SessionName -> the role, without the session,
# so a retry from a new session of the same role is the same merchant.
_ASSUMED_ROLE = re.compile(r"^(arn:[^:]+:sts::\d{12}:assumed-role/[^/]+)/.+$")


class Unauthenticated(Exception):
    """No principal on the request."""


def merchant_id(event: Mapping[str, Any]) -> str:
    context = event.get("requestContext") or {}
    principal = (context.get("authorizer") or {}).get("principalId")
    if isinstance(principal, str) and principal:
        return principal
    user_arn = (context.get("identity") or {}).get("userArn")
    if isinstance(user_arn, str) and user_arn:
        match = _ASSUMED_ROLE.match(user_arn)
        return match.group(1) if match else user_arn
    raise Unauthenticated("The request carries no authenticated principal")
