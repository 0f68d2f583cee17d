"""Who is calling: the merchant is the authenticated principal API Gateway vouches for.

The one way a merchant id is made from a principal: every route (through api.py's `_merchant`), and the
operator's tools (`payments-admin --principal`). A queued message names its merchant id as made here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from ..domain.errors import Invalid

# arn:aws:sts::123456789012:assumed-role/RoleName/SessionName: the role, and its session.
_ASSUMED_ROLE = re.compile(r"^(arn:[^:]+:sts::\d{12}:assumed-role/[^/]+)/.+$")
# An authorizer's principal id is whatever the authorizer chose: namespaced so it can never equal an
# IAM ARN (two callers authenticated two ways must never share keys and payments).
AUTHORIZER_PREFIX = "authorizer:"

# "role": every session of an assumed role is one merchant (a retry from a new session is the same
# merchant). "role-session": each session is its own (Cognito identity pools, Identity Center
# permission sets: one role, many users).
MerchantScope = Literal["role", "role-session"]


class Unauthenticated(Invalid):
    """No principal on the request."""


def merchant_of_arn(user_arn: str, scope: MerchantScope) -> str:
    """The merchant an IAM principal is under MERCHANT_SCOPE `scope` (no default: a caller must say)."""
    match = _ASSUMED_ROLE.match(user_arn)
    return match.group(1) if match and scope == "role" else user_arn


def merchant_id(event: Mapping[str, Any], scope: MerchantScope) -> str:
    context = event.get("requestContext") or {}
    principal = (context.get("authorizer") or {}).get("principalId")
    if isinstance(principal, str) and principal:
        return AUTHORIZER_PREFIX + principal
    user_arn = (context.get("identity") or {}).get("userArn")
    if isinstance(user_arn, str) and user_arn:
        return merchant_of_arn(user_arn, scope)
    raise Unauthenticated("The request carries no authenticated principal")
