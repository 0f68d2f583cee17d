"""How requests prove who the merchant is: SigV4 (`execute-api`) when AWS credentials exist, else the local header."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .target import Target

# Matches local/events.py: the merchant the local server assumes; kept here so the tool needs no `local` package.
LOCAL_MERCHANT = "arn:aws:iam::000000000000:user/local-merchant"
MERCHANT_HEADER = "X-Merchant-Id"
SERVICE = "execute-api"


class SigningError(ValueError):
    """Signing was chosen but cannot work (usage error), e.g. no region is known."""


class Authenticator(Protocol):
    @property
    def description(self) -> str: ...

    def headers(self, target: Target, method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        """The headers to send, authentication included."""
        ...


@dataclass(frozen=True)
class MerchantHeader:
    """Local server only: it trusts this header instead of an IAM principal."""

    merchant: str

    @property
    def description(self) -> str:
        return f"local merchant header {MERCHANT_HEADER}: {self.merchant}"

    def headers(self, target: Target, method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        return {**headers, MERCHANT_HEADER: self.merchant}


@dataclass(frozen=True)
class SigV4:
    """API Gateway with AWS_IAM auth: each request signed for service execute-api in the API's region."""

    credentials: Any  # botocore Credentials (possibly refreshable)
    region: str

    @property
    def description(self) -> str:
        return f"SigV4 ({SERVICE}, {self.region})"

    def headers(self, target: Target, method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        # Host is signed and sent explicitly, so what is signed is exactly what goes on the wire.
        request = AWSRequest(method=method, url=target.url(path), data=body, headers={**headers, "Host": target.netloc})
        SigV4Auth(self.credentials.get_frozen_credentials(), SERVICE, self.region).add_auth(request)
        return dict(request.headers.items())


def botocore_credentials() -> Any:
    """Whatever botocore's default chain finds (env, profile, SSO, container, instance), or None."""
    import botocore.session

    return botocore.session.get_session().get_credentials()


def botocore_region() -> str | None:
    import botocore.session

    region = botocore.session.get_session().get_config_variable("region")
    return str(region) if region else None


def choose(
    target: Target,
    *,
    local: bool,
    merchant: str = LOCAL_MERCHANT,
    region: str | None = None,
    credentials: Callable[[], Any] = botocore_credentials,
    default_region: Callable[[], str | None] = botocore_region,
) -> Authenticator:
    """--local, or no credentials at all -> merchant header; otherwise SigV4 in the explicit, URL or profile region."""
    if local:
        return MerchantHeader(merchant)
    found = credentials()
    if found is None:
        return MerchantHeader(merchant)
    chosen = region or target.region() or default_region()
    if not chosen:
        raise SigningError(
            f"cannot tell the AWS region of {target.host}; pass --region (or --local for the local server)"
        )
    return SigV4(found, chosen)
