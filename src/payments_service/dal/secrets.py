"""Secrets Manager through Powertools' Parameters utility: cached per execution environment, refreshed after
`max_age` seconds so a rotated secret is picked up. Values are never logged."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ..domain.processor import ProcessorMisconfigured, ProcessorUnavailable
from .errors import error_code, is_transient

# Codes that no retry will cure: the function's role or the secret must be fixed.
_MISCONFIGURED = frozenset(
    {"AccessDeniedException", "ResourceNotFoundException", "DecryptionFailure", "InvalidRequestException"}
)
# Every provider made in this process, so that a SnapStart restore can forget what they cached.
_providers: list[Any] = []


def forget_cached_secrets() -> None:
    """After a SnapStart restore: a secret cached in the snapshot may have been rotated since; read it anew."""
    for provider in list(_providers):
        provider.clear_cache()


def processor_secret(arn: str, max_age_seconds: int, client: Callable[[], Any] | None = None) -> Callable[[], str]:
    """A reader of the processor's secret string. Raises the processor port's errors, never the value.

    client: a factory of the secretsmanager client (tests); by default Powertools builds its own on first use.
    """
    provider: Any = None
    lock = threading.Lock()

    def read() -> str:
        nonlocal provider
        # Imported here: Parameters brings boto3, paid only on the Stripe path and only at the first payment.
        from aws_lambda_powertools.utilities.parameters import SecretsProvider
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        with lock:
            if provider is None:
                provider = SecretsProvider(boto3_client=client() if client else None)
                _providers.append(provider)
        try:
            value = provider.get(arn, max_age=max_age_seconds)
        except GetParameterError as error:
            raise _classified(error.__context__) from None
        if not isinstance(value, str) or not value.strip():
            raise ProcessorMisconfigured("the secret holds no API key string")
        return value.strip()

    return read


def _classified(cause: BaseException | None) -> Exception:
    if isinstance(cause, ClientError) and error_code(cause) in _MISCONFIGURED:
        return ProcessorMisconfigured(f"secret unreadable: {error_code(cause)}")
    if cause is None or is_transient(cause):
        return ProcessorUnavailable("secret temporarily unreadable")
    return ProcessorMisconfigured(f"secret unreadable: {type(cause).__name__}")
