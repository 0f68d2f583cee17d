"""SigV4 for a deployed stack (API Gateway with AWS_IAM auth): the merchant *is* the signing principal.

httpx has no AWS signing and botocore signs only its own requests, so this small `httpx.Auth` hands each
attempt to botocore's signer. It runs per attempt, so every retry carries a fresh X-Amz-Date over the same
body bytes. Needs the `[iam]` extra (botocore); credentials come from botocore's standard chain
(environment, shared config and SSO profiles, container and instance roles) unless given.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

import httpx

SERVICE = "execute-api"
# https://{api-id}.execute-api.{region}.amazonaws.com: the region is in the host.
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d+)\.")
# Only these are signed: what a proxy or httpx itself may add or rewrite (Connection, Accept-Encoding...)
# must not break the signature.
_SIGNED = ("host", "content-type", "idempotency-key")


class SigV4(httpx.Auth):
    requires_request_body = True  # the payload's hash is part of the signature

    def __init__(self, *, region: str | None = None, credentials: Any = None, profile: str | None = None) -> None:
        try:
            import botocore.session
        except ImportError as error:  # pragma: no cover - depends on the installed extras
            raise ImportError("SigV4 needs botocore: pip install 'idempotent-payments-client[iam]'") from error
        session = botocore.session.Session(profile=profile)
        self._credentials = credentials if credentials is not None else session.get_credentials()
        if self._credentials is None:
            raise ValueError("no AWS credentials found (environment, profile, SSO, container or instance role)")
        configured = session.get_config_variable("region")
        self._region, self._configured = region, str(configured) if configured else None

    def region_for(self, host: str) -> str:
        """The explicit region, else the one an execute-api host names, else the profile's (custom domains)."""
        found = _REGION_IN_HOST.search(host.lower())
        region = self._region or (found.group(1) if found else None) or self._configured
        if not region:
            raise ValueError(f"cannot tell the AWS region of {host}: pass SigV4(region=...)")
        return region

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        headers = {name: request.headers[name] for name in _SIGNED if name in request.headers}
        signable = AWSRequest(method=request.method, url=str(request.url), data=request.content, headers=headers)
        credentials = self._credentials
        frozen = credentials.get_frozen_credentials() if hasattr(credentials, "get_frozen_credentials") else credentials
        SigV4Auth(frozen, SERVICE, self.region_for(request.url.host)).add_auth(signable)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in signable.headers:
                request.headers[name] = signable.headers[name]
        yield request
