"""Secrets Manager through Powertools' Parameters utility: cached per execution environment, refreshed after
`max_age` seconds so a rotated secret is picked up. Values are never logged."""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError

from ..domain.processor import ProcessorMisconfigured, ProcessorUnavailable
from .errors import error_code, is_transient

# Codes that no retry will cure: the function's role or the secret must be fixed.
_MISCONFIGURED = frozenset(
    {"AccessDeniedException", "ResourceNotFoundException", "DecryptionFailure", "InvalidRequestException"}
)


def processor_secret(arn: str, max_age_seconds: int) -> Callable[[], str]:
    """A reader of the processor's secret string. Raises the processor port's errors, never the value."""

    def read() -> str:
        from aws_lambda_powertools.utilities import parameters  # imports boto3: paid only by the Stripe path

        try:
            value = parameters.get_secret(arn, max_age=max_age_seconds)
        except parameters.exceptions.GetParameterError as error:
            cause = error.__context__
            if isinstance(cause, ClientError) and error_code(cause) in _MISCONFIGURED:
                raise ProcessorMisconfigured(f"secret unreadable: {error_code(cause)}") from None
            if cause is None or is_transient(cause):
                raise ProcessorUnavailable("secret temporarily unreadable") from None
            raise ProcessorMisconfigured(f"secret unreadable: {type(cause).__name__}") from None
        if not isinstance(value, str) or not value.strip():
            raise ProcessorMisconfigured("the secret holds no API key string")
        return value.strip()

    return read
